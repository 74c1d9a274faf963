package vm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// checkFields are the keys naming a polled check, which ready and probe
// share: exactly one is set.
var checkFields = []string{"check", "exec", "http", "tcp"}

// readyFields and probeFields are the keys a ready or probe table may hold.
var (
	readyFields = sortedFields(checkFields, "fd", "initial_delay", "log", "notify", "notify_access", "period", "timeout")
	probeFields = sortedFields(checkFields, "failure_threshold", "initial_delay", "period", "success_threshold", "timeout")
)

func sortedFields(a []string, b ...string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return out
}

// checkTable reads a ready or probe table: name is the option's name,
// which every error starts with.
type checkTable struct {
	name string
	t    *lua.LTable
}

// openCheckTable checks that v is a table whose keys are all in fields.
func openCheckTable(name string, v lua.LValue, fields []string, example string) (*checkTable, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`%s must be a table such as %s, not %s`, name, example, describe(v))
	}
	for _, k := range tableKeys(t) {
		ks, ok := k.(lua.LString)
		if !ok || !slices.Contains(fields, string(ks)) {
			return nil, fmt.Errorf("%s: unknown field %s (known: %s)", name, k.String(), strings.Join(fields, ", "))
		}
	}
	return &checkTable{name: name, t: t}, nil
}

func (c *checkTable) get(field string) lua.LValue { return c.t.RawGetString(field) }

// str decodes a string field; "" when absent.
func (c *checkTable) str(field string) (string, error) {
	x := c.get(field)
	if x == lua.LNil {
		return "", nil
	}
	return decodeString(c.name+"."+field, x)
}

// duration decodes a duration field, if present, into dst.
func (c *checkTable) duration(field string, positive bool, dst *time.Duration) error {
	x := c.get(field)
	if x == lua.LNil {
		return nil
	}
	d, err := decodeDuration(c.name+"."+field, x, positive)
	if err == nil {
		*dst = d
	}
	return err
}

// integer decodes an integer field >= lo, if present, into dst.
func (c *checkTable) integer(field string, lo int, dst *int) error {
	x := c.get(field)
	if x == lua.LNil {
		return nil
	}
	n, err := decodeInt(c.name+"."+field, x, lo)
	if err == nil {
		*dst = n
	}
	return err
}

// polled decodes the check fields (http, tcp, exec, check): a check
// function becomes a readyCheck run on the VM under s's hook deadline.
func (c *checkTable) polled(s *supervisor.Spec) (http, tcp, exec string, check supervisor.ReadyCheck, err error) {
	for field, dst := range map[string]*string{"http": &http, "tcp": &tcp, "exec": &exec} {
		if *dst, err = c.str(field); err != nil {
			return
		}
	}
	switch f := c.get("check").(type) {
	case *lua.LNilType:
	case *lua.LFunction:
		check = &readyCheck{h: &hooks{program: s.Program, timeout: s.HookTimeout}, fn: f, what: c.name + ".check"}
	default:
		err = fmt.Errorf("%s.check must be a function, got %s", c.name, describe(f))
	}
	return
}

// decodeDuration accepts a number of seconds or a Go duration string
// ("10s", "1m30s", "500ms"), as start_limit.interval does.
func decodeDuration(name string, v lua.LValue, positive bool) (time.Duration, error) {
	if s, ok := v.(lua.LString); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(string(s))); err == nil && d >= 0 && (d > 0 || !positive) {
			return d, nil
		}
	}
	d, err := decodeSeconds(name, v, positive)
	if err != nil {
		return 0, fmt.Errorf(`%w (seconds, or a duration such as "10s")`, err)
	}
	return d, nil
}

// decodeReady decodes ready = { notify = "systemd" | fd = 3 | http = URL |
// tcp = "host:port" | exec = "cmd" | log = "text" | check = function(p),
// timeout = 60, period = 1, initial_delay = 0 }.
func decodeReady(name string, s *supervisor.Spec, v lua.LValue) (*supervisor.ReadySpec, error) {
	c, err := openCheckTable(name, v, readyFields, `{ notify = "systemd" }`)
	if err != nil {
		return nil, err
	}
	r := &supervisor.ReadySpec{}
	if n, e := c.str("notify"); e != nil || (n != "" && n != "systemd") {
		return nil, errors.Join(e, fmt.Errorf(`%s.notify must be "systemd", not %q`, name, n))
	} else {
		r.Notify = n == "systemd"
	}
	if r.HTTP, r.TCP, r.Exec, r.Check, err = c.polled(s); err != nil {
		return nil, err
	}
	for field, dst := range map[string]*string{"notify_access": &r.NotifyAccess, "log": &r.Log} {
		if *dst, err = c.str(field); err != nil {
			return nil, err
		}
	}
	err = errors.Join(c.integer("fd", 0, &r.FD), c.duration("timeout", true, &r.Timeout),
		c.duration("period", true, &r.Period), c.duration("initial_delay", false, &r.InitialDelay))
	if err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeProbe decodes probe = { http = URL | tcp = "host:port" | exec =
// "cmd" | check = function(p), period = 10, timeout = 1, initial_delay = 0,
// failure_threshold = 3, success_threshold = 1 }.
func decodeProbe(name string, s *supervisor.Spec, v lua.LValue) (*supervisor.ProbeSpec, error) {
	c, err := openCheckTable(name, v, probeFields, `{ http = "http://127.0.0.1:8080/healthz" }`)
	if err != nil {
		return nil, err
	}
	r := &supervisor.ProbeSpec{}
	if r.HTTP, r.TCP, r.Exec, r.Check, err = c.polled(s); err != nil {
		return nil, err
	}
	err = errors.Join(c.duration("period", true, &r.Period), c.duration("timeout", true, &r.Timeout),
		c.duration("initial_delay", false, &r.InitialDelay),
		c.integer("failure_threshold", 1, &r.FailureThreshold), c.integer("success_threshold", 1, &r.SuccessThreshold))
	if err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s needs exactly one of http, tcp, exec, check", name)
	}
	return r, nil
}

// decodeWatchdog decodes watchdog = 30 (or "30s"). The pings arrive on
// the notify socket, so it needs ready = { notify = "systemd" } (decoded
// before it). tend does not make a notify socket for the watchdog alone:
// a program given NOTIFY_SOCKET may send READY=1, and without the ready
// option tend would have to give that a second meaning.
func decodeWatchdog(name string, s *supervisor.Spec, v lua.LValue) (time.Duration, error) {
	d, err := decodeDuration(name, v, false)
	if err != nil || d == 0 {
		return d, err
	}
	if s.Ready == nil || !s.Ready.Notify {
		return 0, fmt.Errorf(`%s needs ready = { notify = "systemd" }: the program pings the watchdog on its notify socket`, name)
	}
	return d, nil
}

// bindChecks hands the scripted checks of s (ready.check, probe.check)
// the VM they run on.
func bindChecks(s *supervisor.Spec, v *VM) {
	if s.Ready != nil {
		if rc, ok := s.Ready.Check.(*readyCheck); ok {
			rc.v = v
		}
	}
	if s.Probe != nil {
		if rc, ok := s.Probe.Check.(*readyCheck); ok {
			rc.v = v
		}
	}
}

// readyCheck is the supervisor.ReadyCheck of ready = { check = function(p)
// ... end } and of probe's check: the function runs on the VM's owner
// goroutine under the hook deadline, like every hook; the engine waits
// for it on a goroutine of its own, never under its lock.
type readyCheck struct {
	v    *VM
	h    *hooks
	fn   *lua.LFunction
	what string // "ready.check" or "probe.check", for errors
}

// Ready calls check(p); a true result means ready (or healthy).
func (rc *readyCheck) Ready(ctx context.Context, p supervisor.Info) (bool, error) {
	if rc.v == nil {
		return false, errors.New(rc.what + " has no vm")
	}
	h := *rc.h
	if h.timeout <= 0 {
		h.timeout = supervisor.DefaultHookTimeout
	}
	res, err := rc.v.call(ctx, &h, rc.what, rc.fn, func(L *lua.LState) []lua.LValue {
		return []lua.LValue{procTable(L, p)}
	})
	if err != nil {
		return false, err
	}
	return lua.LVAsBool(res), nil
}
