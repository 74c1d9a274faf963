package vm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"syscall"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// HealthConfig is daemon{ health = { listen = "0.0.0.0:8081" } }: the
// orchestrator's probe listener (/healthz, /readyz).
type HealthConfig struct {
	Listen string
}

// containerOptions are the daemon{} options of container mode, appended to
// daemonOptions.
var containerOptions = []daemonOption{
	{name: "container", kind: supervisor.KindBool, def: "false", restart: true,
		doc:   "PID 1 duties (reap every orphan); on by itself when tend is PID 1",
		field: func(d *Daemon) any { return &d.Container }},
	{name: "exit_when_done", kind: supervisor.KindBool, def: "false",
		doc:   "exit once nothing runs and nothing will restart (0, or the first unexpected code)",
		field: func(d *Daemon) any { return &d.ExitWhenDone }},
	{name: "shutdown_timeout", kind: supervisor.KindSeconds, def: "25",
		doc:   "seconds a shutdown may take in all before everything left gets SIGKILL",
		field: func(d *Daemon) any { return &d.ShutdownTimeout },
		decode: func(d *Daemon, name string, v lua.LValue, _ *daemonDecoding) (err error) {
			d.ShutdownTimeout, err = decodeSeconds(name, v, true)
			return err
		}},
	{name: "exit_codes", decode: decodeExitCodeMap,
		doc:   "remap tend's exit status, such as { [143] = 0 }, or a function(x) choosing it",
		field: func(d *Daemon) any { return &d.ExitCodes }},
	{name: "forward", restart: true, decode: decodeForward,
		doc:   `signals passed to programs, such as { USR1 = "web:*" }`,
		field: func(d *Daemon) any { return &d.Forward }},
	{name: "rewrite", restart: true, decode: decodeRewrite,
		doc:   `what a received signal becomes for the programs, such as { TERM = "QUIT" }`,
		field: func(d *Daemon) any { return &d.Rewrite }},
	{name: "health", restart: true, decode: decodeHealth,
		doc:   `the probe listener, such as { listen = "0.0.0.0:8081" }`,
		field: func(d *Daemon) any { return &d.Health }},
}

// exitCodeOf reads an exit status (0-255) from a table key or value.
func exitCodeOf(what string, v lua.LValue) (int, error) {
	n, ok := v.(lua.LNumber)
	if !ok || float64(n) != math.Trunc(float64(n)) || n < 0 || n > 255 {
		return 0, fmt.Errorf("exit_codes %s must be an integer from 0 to 255, got %s", what, describe(v))
	}
	return int(n), nil
}

// decodeExitCodeMap decodes exit_codes = { [143] = 0 }, or a function
// that chooses the status (VM.ExitCode).
func decodeExitCodeMap(d *Daemon, _ string, v lua.LValue, c *daemonDecoding) error {
	if f, ok := v.(*lua.LFunction); ok {
		d.exitHook, d.ExitCodeHook = f, where(f)
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf("exit_codes must be a table such as { [143] = 0 } or a function, got %s", describe(v))
	}
	d.ExitCodes = map[int]int{}
	for _, k := range tableKeys(t) {
		from, err := exitCodeOf("keys", k)
		if err == nil {
			var to int
			if to, err = exitCodeOf("values", t.RawGet(k)); err == nil {
				d.ExitCodes[from] = to
			}
		}
		if err != nil {
			c.el.add(err)
		}
	}
	return nil
}

// signalTable decodes a table keyed by signal names.
func signalTable(name string, v lua.LValue, c *daemonDecoding, each func(sig syscall.Signal, v lua.LValue) error) error {
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf("%s must be a table keyed by signal names, got %s", name, describe(v))
	}
	for _, k := range tableKeys(t) {
		sig, err := decodeSignal(name+" key", k)
		if err == nil && (sig == syscall.SIGKILL || sig == syscall.SIGSTOP || sig == syscall.SIGCHLD) {
			err = fmt.Errorf("%s: SIG%s cannot be caught or passed on", name, supervisor.SignalName(sig))
		}
		if err == nil {
			err = each(sig, t.RawGet(k))
		}
		if err != nil {
			c.el.add(err)
		}
	}
	return nil
}

// decodeForward decodes forward = { USR1 = "web:*" }: a target per signal.
// TERM, INT, QUIT and HUP stay the daemon's own (shutdown, reload).
func decodeForward(d *Daemon, name string, v lua.LValue, c *daemonDecoding) error {
	d.Forward = map[syscall.Signal]string{}
	return signalTable(name, v, c, func(sig syscall.Signal, v lua.LValue) error {
		switch sig {
		case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP:
			return fmt.Errorf("forward: SIG%s is tend's own (shutdown or reload); use rewrite to change what programs get", supervisor.SignalName(sig))
		}
		s, err := decodeString(name+"."+supervisor.SignalName(sig), v)
		if err == nil && s == "" {
			err = errors.New("forward." + supervisor.SignalName(sig) + ` needs a target such as "web:*" or "all"`)
		}
		d.Forward[sig] = s
		return err
	})
}

// decodeRewrite decodes rewrite = { TERM = "QUIT" }.
func decodeRewrite(d *Daemon, name string, v lua.LValue, c *daemonDecoding) error {
	d.Rewrite = map[syscall.Signal]syscall.Signal{}
	return signalTable(name, v, c, func(sig syscall.Signal, v lua.LValue) error {
		to, err := decodeSignal(name+"."+supervisor.SignalName(sig), v)
		d.Rewrite[sig] = to
		return err
	})
}

// decodeHealth decodes health = { listen = "0.0.0.0:8081" } (or false).
func decodeHealth(d *Daemon, _ string, v lua.LValue, c *daemonDecoding) error {
	d.Health = nil
	if v == lua.LFalse {
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf(`health must be a table such as { listen = "0.0.0.0:8081" }, got %s`, describe(v))
	}
	h := &HealthConfig{}
	d.Health = h
	for _, k := range tableKeys(t) {
		var err error
		switch k.String() {
		case "listen":
			h.Listen, err = decodeString("health.listen", t.RawGet(k))
		default:
			err = errors.New("health: " + unknownOption(k.String(), []string{"listen"}))
		}
		if err != nil {
			c.el.add(err)
		}
	}
	if h.Listen == "" {
		c.el.add(errors.New(`health.listen is required (such as "0.0.0.0:8081")`))
	}
	return nil
}

// ExitCode asks the config's exit_codes function, if it is one, for tend's
// exit status: it is called as exit_codes(x) with x.code (the status tend
// would exit with) and x.cause (why), under the hook deadline, and returns
// an integer from 0 to 255, or nil to keep x.code. Without a function, or
// when it fails (the error says where), code is returned unchanged.
func (v *VM) ExitCode(ctx context.Context, code int, cause string) (int, error) {
	f := v.exitHook
	if f == nil {
		return code, nil
	}
	h := &hooks{program: "daemon", timeout: v.hookTimeout}
	res, err := v.call(ctx, h, "exit_codes", f, func(L *lua.LState) []lua.LValue {
		x := L.CreateTable(0, 2)
		x.RawSetString("code", lua.LNumber(code))
		x.RawSetString("cause", lua.LString(cause))
		return []lua.LValue{x}
	})
	if err != nil {
		return code, err
	}
	if res == lua.LNil {
		return code, nil
	}
	to, err := exitCodeOf("function results", res)
	if err != nil {
		return code, fmt.Errorf("exit_codes function (%s): %w", where(f), err)
	}
	return to, nil
}
