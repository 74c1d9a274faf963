package stdlib

import (
	"context"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// loadSV returns the loader of the sv module, bound to c (which may be
// nil). Every call into the daemon runs under g, so a daemon busy with
// something else cannot hold a hook past its deadline.
func loadSV(g *guard, c Control) lua.LGFunction {
	attached := func(L *lua.LState, fn string) {
		if c == nil {
			L.RaiseError("sv.%s: not attached to a running daemon", fn)
		}
	}
	check := func(L *lua.LState, fn string, call func() error) int {
		_, err := do(g, L, "sv."+fn, func(context.Context) (struct{}, error) { return struct{}{}, call() })
		if err != nil {
			L.RaiseError("sv.%s: %v", fn, err)
		}
		L.Push(lua.LTrue)
		return 1
	}
	named := func(fn string, call func(string) error) lua.LGFunction {
		return func(L *lua.LState) int {
			name := L.CheckString(1)
			attached(L, fn)
			return check(L, fn, func() error { return call(name) })
		}
	}
	update := func(fn string) lua.LGFunction {
		return func(L *lua.LState) int {
			attached(L, fn)
			return check(L, fn, c.Update)
		}
	}
	return func(L *lua.LState) int {
		L.Push(newModule(L, map[string]lua.LGFunction{
			"status": func(L *lua.LState) int {
				pattern := L.OptString(1, "")
				attached(L, "status")
				infos, err := do(g, L, "sv.status", func(context.Context) ([]supervisor.Info, error) { return c.Status(pattern) })
				if err != nil {
					L.RaiseError("sv.status: %v", err)
				}
				t := L.CreateTable(len(infos), 0)
				for _, in := range infos {
					t.Append(InfoTable(L, in))
				}
				L.Push(t)
				return 1
			},
			"events": func(L *lua.LState) int {
				pattern := L.OptString(1, "")
				attached(L, "events")
				evs, err := do(g, L, "sv.events", func(context.Context) ([]supervisor.StateChange, error) { return c.Events() })
				if err != nil {
					L.RaiseError("sv.events: %v", err)
				}
				L.Push(eventsTable(L, evs, pattern))
				return 1
			},
			"start":   named("start", func(n string) error { return c.Start(n) }),
			"stop":    named("stop", func(n string) error { return c.Stop(n) }),
			"restart": named("restart", func(n string) error { return c.Restart(n) }),
			"signal": func(L *lua.LState) int {
				name, sig := L.CheckString(1), L.CheckString(2)
				attached(L, "signal")
				return check(L, "signal", func() error { return c.Signal(name, sig) })
			},
			"scale": func(L *lua.LState) int {
				prog, n := L.CheckString(1), L.CheckInt(2)
				if n < 0 {
					L.ArgError(2, "numprocs must be >= 0")
				}
				attached(L, "scale")
				return check(L, "scale", func() error { return c.Scale(prog, n) })
			},
			"roll": func(L *lua.LState) int {
				name := L.CheckString(1)
				surge, down := rollOptions(L, L.OptTable(2, nil))
				attached(L, "roll")
				return check(L, "roll", func() error { return c.Roll(name, surge, down) })
			},
			// update applies the config anew, as tend update. reload is
			// its older name, kept so configs written for it still run;
			// supervisord's reload (restart the daemon) is not offered to Lua.
			"update": update("update"),
			"reload": update("reload"),
		}))
		return 1
	}
}

// rollOptions reads sv.roll's options table: max_surge (default 1) and
// max_unavailable (default 0), whole numbers >= 0; any other key is an
// error, as an unknown program option is.
func rollOptions(L *lua.LState, t *lua.LTable) (surge, down int) {
	surge = 1
	if t == nil {
		return surge, down
	}
	t.ForEach(func(k, v lua.LValue) {
		n, ok := v.(lua.LNumber)
		if !ok || float64(n) != float64(int(n)) || n < 0 {
			L.ArgError(2, fmt.Sprintf("%s must be a whole number >= 0, got %s", k.String(), v.String()))
		}
		switch k.String() {
		case "max_surge":
			surge = int(n)
		case "max_unavailable":
			down = int(n)
		default:
			L.ArgError(2, "unknown option "+k.String()+" (max_surge, max_unavailable)")
		}
	})
	return surge, down
}

// InfoTable renders a process snapshot as the table sv.status returns and
// hooks receive as p: name, namespec, program, group, num, state, pid,
// uptime (seconds), restarts, exitstatus, description, spawnerr, ready,
// status_text, requires ({ db = "ready" }), waiting ("db (ready)"),
// probe, probe_error, watchdog, kill_reason.
func InfoTable(L *lua.LState, in supervisor.Info) *lua.LTable {
	t := L.CreateTable(0, 12)
	t.RawSetString("name", lua.LString(in.Name))
	t.RawSetString("namespec", lua.LString(in.Namespec()))
	t.RawSetString("program", lua.LString(in.Program))
	t.RawSetString("group", lua.LString(in.Group))
	t.RawSetString("num", lua.LNumber(in.Num))
	t.RawSetString("state", lua.LString(in.State.String()))
	t.RawSetString("pid", lua.LNumber(in.Pid))
	t.RawSetString("uptime", lua.LNumber(in.Uptime().Seconds()))
	t.RawSetString("restarts", lua.LNumber(in.Restarts))
	t.RawSetString("exitstatus", lua.LNumber(in.ExitStatus))
	t.RawSetString("description", lua.LString(strings.TrimSpace(in.Description())))
	t.RawSetString("spawnerr", lua.LString(in.SpawnErr))
	// The ready option: whether the current run said it is ready, and the
	// last STATUS= text it sent on its notify socket.
	t.RawSetString("ready", lua.LBool(in.Ready))
	t.RawSetString("status_text", lua.LString(in.StatusText))
	// The requires option: each requirement's name and the condition it
	// waits for, and what a start asked for still waits for ("" if none).
	reqs := L.CreateTable(0, len(in.Requires))
	for _, r := range in.Requires {
		reqs.RawSetString(r.Name, lua.LString(r.Condition))
	}
	t.RawSetString("requires", reqs)
	t.RawSetString("waiting", lua.LString(in.Waiting))
	// The probe and watchdog options: their state while RUNNING ("ok",
	// "failing 2/3"; "30s, last ping 2s ago"), the probe's last failure,
	// and why tend last killed the process as unhealthy.
	t.RawSetString("probe", lua.LString(in.Probe))
	t.RawSetString("probe_error", lua.LString(in.ProbeError))
	t.RawSetString("watchdog", lua.LString(in.Watchdog))
	t.RawSetString("kill_reason", lua.LString(in.KillReason))
	// Whether a rolling restart covers the process now.
	t.RawSetString("rolling", lua.LBool(in.Rolling))
	return t
}

// eventsTable renders the state changes pattern selects ("" or "all":
// every one; "group:*"; a name or namespec) as the list sv.events returns:
// tables with time (Unix seconds), name, namespec, group, from, to, pid,
// exitcode, signal and reason.
func eventsTable(L *lua.LState, evs []supervisor.StateChange, pattern string) *lua.LTable {
	t := L.CreateTable(len(evs), 0)
	tg := supervisor.ParseTarget(pattern)
	for _, ev := range evs {
		if pattern != "" && !tg.All && (ev.Group != tg.Group || tg.Process != "" && ev.Process != tg.Process) {
			continue
		}
		e := L.CreateTable(0, 10)
		e.RawSetString("time", lua.LNumber(float64(ev.Time.UnixMicro())/1e6))
		e.RawSetString("name", lua.LString(ev.Process))
		e.RawSetString("namespec", lua.LString(supervisor.Namespec(ev.Group, ev.Process)))
		e.RawSetString("group", lua.LString(ev.Group))
		e.RawSetString("from", lua.LString(ev.From.String()))
		e.RawSetString("to", lua.LString(ev.To.String()))
		e.RawSetString("pid", lua.LNumber(ev.Pid))
		e.RawSetString("exitcode", lua.LNumber(ev.ExitCode))
		if ev.Signal != 0 {
			e.RawSetString("signal", lua.LString(supervisor.SignalName(ev.Signal)))
		}
		e.RawSetString("reason", lua.LString(ev.Reason))
		t.Append(e)
	}
	return t
}
