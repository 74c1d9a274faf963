package vm

import (
	"context"
	"errors"
	"fmt"
	"slices"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// readyFields are the keys a ready table may hold.
var readyFields = []string{"check", "exec", "fd", "http", "initial_delay", "log", "notify", "notify_access", "period", "tcp", "timeout"}

// decodeReady decodes ready = { notify = "systemd" | fd = 3 | http = URL |
// tcp = "host:port" | exec = "cmd" | log = "text" | check = function(p),
// timeout = 60, period = 1, initial_delay = 0 }.
func decodeReady(name string, s *supervisor.Spec, v lua.LValue) (*supervisor.ReadySpec, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`%s must be a table such as { notify = "systemd" }, not %s`, name, describe(v))
	}
	r := &supervisor.ReadySpec{}
	for _, k := range tableKeys(t) {
		ks, ok := k.(lua.LString)
		if !ok || !slices.Contains(readyFields, string(ks)) {
			return nil, fmt.Errorf("%s: unknown field %s (known: %v)", name, k.String(), readyFields)
		}
	}
	str := func(field string) (string, error) {
		x := t.RawGetString(field)
		if x == lua.LNil {
			return "", nil
		}
		return decodeString(name+"."+field, x)
	}
	var err error
	if n, e := str("notify"); e != nil || (n != "" && n != "systemd") {
		return nil, errors.Join(e, fmt.Errorf(`%s.notify must be "systemd", not %q`, name, n))
	} else {
		r.Notify = n == "systemd"
	}
	for field, dst := range map[string]*string{"notify_access": &r.NotifyAccess, "http": &r.HTTP, "tcp": &r.TCP, "exec": &r.Exec, "log": &r.Log} {
		if *dst, err = str(field); err != nil {
			return nil, err
		}
	}
	if x := t.RawGetString("fd"); x != lua.LNil {
		if r.FD, err = decodeInt(name+".fd", x, 0); err != nil {
			return nil, err
		}
	}
	for field, dst := range map[string]*int64{"timeout": (*int64)(&r.Timeout), "period": (*int64)(&r.Period), "initial_delay": (*int64)(&r.InitialDelay)} {
		if x := t.RawGetString(field); x != lua.LNil {
			d, err := decodeSeconds(name+"."+field, x, field != "initial_delay")
			if err != nil {
				return nil, err
			}
			*dst = int64(d)
		}
	}
	switch f := t.RawGetString("check").(type) {
	case *lua.LNilType:
	case *lua.LFunction:
		r.Check = &readyCheck{h: &hooks{program: s.Program, timeout: s.HookTimeout}, fn: f}
	default:
		return nil, fmt.Errorf("%s.check must be a function, got %s", name, describe(f))
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// readyCheck is the supervisor.ReadyCheck of ready = { check = function(p)
// ... end }: the function runs on the VM's owner goroutine under the hook
// deadline, like every hook; the engine waits for it on a goroutine of its
// own, never under its lock.
type readyCheck struct {
	v  *VM
	h  *hooks
	fn *lua.LFunction
}

// Ready calls check(p); a true result means ready.
func (rc *readyCheck) Ready(ctx context.Context, p supervisor.Info) (bool, error) {
	if rc.v == nil {
		return false, errors.New("ready check has no vm")
	}
	h := *rc.h
	if h.timeout <= 0 {
		h.timeout = supervisor.DefaultHookTimeout
	}
	res, err := rc.v.call(ctx, &h, "ready.check", rc.fn, func(L *lua.LState) []lua.LValue {
		return []lua.LValue{procTable(L, p)}
	})
	if err != nil {
		return false, err
	}
	return lua.LVAsBool(res), nil
}
