package vm

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/stdlib"
	"github.com/tend-sh/tend/supervisor"
)

// Small decoders from Lua values to Go values. Each returns an error
// message (without position) that names the option and the bad value.

func decodeString(name string, v lua.LValue) (string, error) {
	switch x := v.(type) {
	case lua.LString:
		return string(x), nil
	case lua.LNumber:
		return x.String(), nil
	}
	return "", fmt.Errorf("%s must be a string, got %s", name, describe(v))
}

func decodeBool(name string, v lua.LValue) (bool, error) {
	switch x := v.(type) {
	case lua.LBool:
		return bool(x), nil
	case lua.LString:
		switch strings.ToLower(string(x)) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0":
			return false, nil
		}
	}
	return false, fmt.Errorf("%s must be true or false, got %s", name, describe(v))
}

// decodeInt accepts an integral number (or a numeric string) >= lo.
func decodeInt(name string, v lua.LValue, lo int) (int, error) {
	f, ok := number(v)
	if !ok || f != math.Trunc(f) || f < float64(lo) || f > math.MaxInt32 {
		if lo == math.MinInt32 {
			return 0, fmt.Errorf("%s must be an integer, got %s", name, describe(v))
		}
		return 0, fmt.Errorf("%s must be an integer >= %d, got %s", name, lo, describe(v))
	}
	return int(f), nil
}

// decodeSeconds accepts a number of seconds >= 0 (fractions allowed).
func decodeSeconds(name string, v lua.LValue, positive bool) (time.Duration, error) {
	f, ok := number(v)
	if !ok || f < 0 || positive && f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		bound := ">= 0"
		if positive {
			bound = "> 0"
		}
		return 0, fmt.Errorf("%s must be a number %s, got %s", name, bound, describe(v))
	}
	return time.Duration(f * float64(time.Second)), nil
}

func number(v lua.LValue) (float64, bool) {
	switch x := v.(type) {
	case lua.LNumber:
		return float64(x), !math.IsNaN(float64(x))
	case lua.LString:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		return f, err == nil
	}
	return 0, false
}

// decodeSize accepts a number of bytes or a size string ("50MB", 1024-based).
func decodeSize(name string, v lua.LValue) (int64, error) {
	switch x := v.(type) {
	case lua.LNumber:
		if x >= 0 && float64(x) == math.Trunc(float64(x)) {
			return int64(x), nil
		}
	case lua.LString:
		if n, err := stdlib.ParseBytes(string(x)); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf(`%s must be a size (bytes, or a string such as "50MB"), got %s`, name, describe(v))
}

func decodeStartRetries(v lua.LValue) (int, error) {
	// gopher-lua's math.huge is math.MaxFloat64, not +Inf.
	if f, ok := v.(lua.LNumber); ok && (math.IsInf(float64(f), 1) || float64(f) >= math.MaxFloat64) {
		return math.MaxInt, nil
	}
	n, err := decodeInt("startretries", v, 0)
	if err != nil {
		return 0, fmt.Errorf("startretries must be an integer >= 0 or math.huge, got %s", describe(v))
	}
	return n, nil
}

func decodeAutoRestart(v lua.LValue) (supervisor.AutoRestart, error) {
	switch x := v.(type) {
	case lua.LBool:
		if x {
			return supervisor.RestartAlways, nil
		}
		return supervisor.RestartNever, nil
	case lua.LString:
		switch strings.ToLower(string(x)) {
		case "unexpected":
			return supervisor.RestartUnexpected, nil
		case "true":
			return supervisor.RestartAlways, nil
		case "false":
			return supervisor.RestartNever, nil
		}
	}
	return 0, fmt.Errorf(`autorestart must be true, false or "unexpected", got %s`, describe(v))
}

// decodeExitCodes accepts a list of integers, one integer, or "0,2".
func decodeExitCodes(v lua.LValue) ([]int, error) {
	bad := fmt.Errorf("exitcodes must be a list of integers from 0 to 255, got %s", describe(v))
	var items []lua.LValue
	switch x := v.(type) {
	case lua.LNumber:
		items = []lua.LValue{x}
	case lua.LString:
		for _, f := range strings.Split(string(x), ",") {
			items = append(items, lua.LString(strings.TrimSpace(f)))
		}
	case *lua.LTable:
		if x.Len() == 0 {
			return nil, bad
		}
		for i := 1; i <= x.Len(); i++ {
			items = append(items, x.RawGetInt(i))
		}
	default:
		return nil, bad
	}
	codes := make([]int, 0, len(items))
	for _, it := range items {
		n, err := decodeInt("exitcodes", it, 0)
		if err != nil || n > 255 {
			return nil, fmt.Errorf("exitcodes must be a list of integers from 0 to 255, got %s in it", describe(it))
		}
		codes = append(codes, n)
	}
	return codes, nil
}

func decodeSignal(name string, v lua.LValue) (syscall.Signal, error) {
	s, err := decodeString(name, v)
	if err == nil {
		var sig syscall.Signal
		if sig, err = supervisor.ParseSignal(s); err == nil {
			return sig, nil
		}
	}
	return 0, fmt.Errorf("%s must be a signal name (\"TERM\") or number, got %s", name, describe(v))
}

// decodeUmask accepts a number (its value) or an octal string ("022").
func decodeUmask(name string, v lua.LValue) (int, error) {
	bad := fmt.Errorf(`%s must be a number or an octal string such as "022", got %s`, name, describe(v))
	switch x := v.(type) {
	case lua.LNumber:
		if f := float64(x); f == math.Trunc(f) && f >= 0 && f <= 0o777 {
			return int(f), nil
		}
	case lua.LString:
		if n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(x)), "0o"), 8, 32); err == nil && n <= 0o777 {
			return int(n), nil
		}
	}
	return 0, bad
}

// decodeMode accepts a file mode as a number or an octal string ("0700").
func decodeMode(name string, v lua.LValue) (os.FileMode, error) {
	n, err := decodeUmask(name, v)
	return os.FileMode(n), err
}

// decodeEnvironment accepts a table of name = value (values are strings,
// numbers or booleans) or supervisord's "A=1,B=2" string.
func decodeEnvironment(v lua.LValue) (map[string]string, error) {
	switch x := v.(type) {
	case lua.LString:
		env, err := parseEnvString(string(x))
		if err != nil {
			return nil, fmt.Errorf("environment: %v", err)
		}
		return env, nil
	case *lua.LTable:
		env := map[string]string{}
		var bad error
		x.ForEach(func(k, val lua.LValue) {
			ks, ok := k.(lua.LString)
			if !ok || ks == "" || strings.ContainsAny(string(ks), "=\x00") {
				bad = fmt.Errorf("environment keys must be variable names, got %s", describe(k))
				return
			}
			switch val.(type) {
			case lua.LString, lua.LNumber, lua.LBool:
				env[string(ks)] = val.String()
			default:
				bad = fmt.Errorf("environment value of %s must be a string, number or boolean, got %s", ks, describe(val))
			}
		})
		return env, bad
	}
	return nil, fmt.Errorf(`environment must be a table or a string "KEY=value,...", got %s`, describe(v))
}

// decodeExpandedEnvironment decodes an environment option and applies
// %(...)s expansions the way supervisord does: a KEY=value string is
// expanded as a whole before it is parsed (so PATH=%(ENV_PATH)s:/opt needs
// no quotes), a table's values one by one.
func decodeExpandedEnvironment(v lua.LValue, expand func(string) (string, error)) (map[string]string, error) {
	if str, ok := v.(lua.LString); ok {
		expanded, err := expand(string(str))
		if err != nil {
			return nil, fmt.Errorf("environment: %v", err)
		}
		return decodeEnvironment(lua.LString(expanded))
	}
	env, err := decodeEnvironment(v)
	if err != nil {
		return nil, err
	}
	for k, val := range env {
		if env[k], err = expand(val); err != nil {
			return nil, fmt.Errorf("environment %s: %v", k, err)
		}
	}
	return env, nil
}

// decodeCommand accepts a command line (split like supervisord splits
// one) or an argv list, and returns the argv and the line as written. A
// line arrives expanded (expandValue); expand applies to a list's words.
func decodeCommand(v lua.LValue, expand func(string) (string, error)) ([]string, string, error) {
	switch x := v.(type) {
	case lua.LString:
		line := string(x)
		argv, err := stdlib.Split(line)
		if err != nil {
			return nil, "", fmt.Errorf("command: %v", err)
		}
		return argv, line, nil
	case *lua.LTable:
		n := x.Len()
		if n == 0 {
			return nil, "", fmt.Errorf("command must not be empty")
		}
		argv := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			s, err := decodeString(fmt.Sprintf("command[%d]", i), x.RawGetInt(i))
			if err != nil {
				return nil, "", err
			}
			if s, err = expand(s); err != nil {
				return nil, "", fmt.Errorf("command[%d]: %v", i, err)
			}
			argv = append(argv, s)
		}
		return argv, stdlib.Join(argv), nil
	}
	return nil, "", fmt.Errorf("command must be a string or a list of strings, got %s", describe(v))
}

// decodeLogPath accepts a path, "AUTO" or "NONE" (any case), already
// expanded: supervisord expands before it looks for AUTO and NONE.
func decodeLogPath(name string, v lua.LValue) (string, error) {
	s, err := decodeString(name, v)
	if err != nil {
		return "", err
	}
	switch strings.ToUpper(s) {
	case supervisor.LogAuto, "":
		return supervisor.LogAuto, nil
	case supervisor.LogNone:
		return supervisor.LogNone, nil
	}
	return s, nil
}

// tableKeys returns a table's keys in a stable order: strings sorted,
// then other keys by their text.
func tableKeys(t *lua.LTable) []lua.LValue {
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	slices.SortFunc(keys, func(a, b lua.LValue) int {
		_, as := a.(lua.LString)
		_, bs := b.(lua.LString)
		if as != bs {
			if as {
				return -1
			}
			return 1
		}
		return strings.Compare(a.String(), b.String())
	})
	return keys
}

// decodeStartLimit decodes start_limit = { burst = 5, interval = 60 }: burst
// an integer >= 1, interval seconds > 0 (a number, or a string such as
// "60s" or "1m"); false or {} is no limit.
func decodeStartLimit(name string, v lua.LValue) (supervisor.StartLimit, error) {
	bad := func(why string) (supervisor.StartLimit, error) {
		return supervisor.StartLimit{}, fmt.Errorf("%s must be a table { burst = N, interval = seconds }: %s", name, why)
	}
	if v == lua.LFalse {
		return supervisor.StartLimit{}, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return bad("got " + describe(v))
	}
	var lim supervisor.StartLimit
	var err error
	for _, k := range tableKeys(t) {
		val := t.RawGet(k)
		switch k.String() {
		case "burst":
			if lim.Burst, err = decodeInt(name+".burst", val, 1); err != nil {
				return supervisor.StartLimit{}, err
			}
		case "interval":
			if s, ok := val.(lua.LString); ok {
				if d, derr := time.ParseDuration(string(s)); derr == nil && d > 0 {
					lim.Interval = d
					continue
				}
			}
			if lim.Interval, err = decodeSeconds(name+".interval", val, true); err != nil {
				return supervisor.StartLimit{}, err
			}
		default:
			return bad("unknown key " + k.String())
		}
	}
	switch {
	case lim.Burst == 0 && lim.Interval == 0:
		return lim, nil
	case lim.Burst == 0:
		return bad("burst is missing")
	case lim.Interval == 0:
		return bad("interval is missing")
	}
	return lim, nil
}
