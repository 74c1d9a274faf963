package vm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/stdlib"
	"github.com/tend-sh/tend/supervisor"
)

// hooks are a program's hook functions and their deadline.
type hooks struct {
	program                             string
	onStart, onExit, onBackoff, onState *lua.LFunction
	onReady                             *lua.LFunction
	timeout                             time.Duration
}

func (h *hooks) set(name string, f *lua.LFunction) {
	switch name {
	case "on_start":
		h.onStart = f
	case "on_exit":
		h.onExit = f
	case "on_backoff":
		h.onBackoff = f
	case "on_state":
		h.onState = f
	case "on_ready":
		h.onReady = f
	}
}

// names lists the hooks that are set, in hookNames order.
func (h *hooks) names() []string {
	var out []string
	for i, f := range []*lua.LFunction{h.onStart, h.onExit, h.onBackoff, h.onState, h.onReady} {
		if f != nil {
			out = append(out, hookNames[i])
		}
	}
	return out
}

// where returns "file:line" of a hook's definition.
func where(f *lua.LFunction) string {
	if f.Proto == nil {
		return "(go function)"
	}
	return fmt.Sprintf("%s:%d", f.Proto.SourceName, f.Proto.LineDefined)
}

// call runs hook fn of process p on the owner goroutine under the hook's
// deadline (and ctx's), returning its first result. Errors and timeouts
// name the hook and where it is defined.
func (v *VM) call(ctx context.Context, h *hooks, name string, fn *lua.LFunction, args func(L *lua.LState) []lua.LValue) (lua.LValue, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	start := time.Now()
	what := fmt.Sprintf("%s hook (%s) of %s", name, where(fn), h.program)
	var res lua.LValue = lua.LNil
	err := v.run(ctx, what, func(L *lua.LState) error {
		L.Push(fn)
		a := args(L)
		for _, x := range a {
			L.Push(x)
		}
		if err := L.PCall(len(a), 1, v.onError); err != nil {
			return errors.New(luaMessage(err))
		}
		res = L.Get(-1)
		L.Pop(1)
		return nil
	})
	v.hookCounts.record(start, err != nil, err != nil && ctx.Err() != nil)
	if err == nil {
		return res, nil
	}
	return nil, fmt.Errorf("%s: %s", what, hookFailure(err, h.timeout))
}

// hookFailure words why a hook call failed.
func hookFailure(err error, timeout time.Duration) string {
	var ie *Interrupted
	if errors.As(err, &ie) {
		var be *BudgetError
		switch {
		case ie.Queued != "":
			return fmt.Sprintf("not run: the lua vm stayed busy with %s past the hook's %s deadline", ie.Queued, timeout)
		case errors.As(ie.Cause, &be):
			return fmt.Sprintf("stopped%s: %v", ie.where(), be)
		case errors.Is(ie.Cause, context.DeadlineExceeded):
			return fmt.Sprintf("timed out after %s%s", timeout, ie.where())
		}
		return ie.Error()
	}
	return err.Error()
}

// procTable is p as hooks see it.
func procTable(L *lua.LState, in supervisor.Info) *lua.LTable {
	return stdlib.InfoTable(L, in)
}

// exitTable is e as on_exit and on_backoff see it.
func exitTable(L *lua.LState, e supervisor.ExitInfo) *lua.LTable {
	t := L.CreateTable(0, 7)
	t.RawSetString("code", lua.LNumber(e.Code))
	if e.Signal != 0 {
		t.RawSetString("signal", lua.LString(supervisor.SignalName(e.Signal)))
	}
	t.RawSetString("expected", lua.LBool(e.Expected))
	t.RawSetString("uptime", lua.LNumber(e.Uptime.Seconds()))
	t.RawSetString("attempt", lua.LNumber(e.Attempt))
	t.RawSetString("pid", lua.LNumber(e.Pid))
	retries := lua.LNumber(e.StartRetries)
	if e.StartRetries == math.MaxInt {
		retries = lua.LNumber(math.MaxFloat64) // == math.huge in gopher-lua
	}
	t.RawSetString("startretries", retries)
	if e.Reason != "" {
		// Why tend killed the process as unhealthy (a probe, the watchdog).
		t.RawSetString("reason", lua.LString(e.Reason))
	}
	return t
}

// policy is the supervisor.Policy of a program with on_exit or on_backoff.
type policy struct {
	v *VM
	h *hooks
}

// OnExit calls on_exit(p, e): "restart", "stop", a delay in seconds, or
// nil for autorestart/exitcodes.
func (pol *policy) OnExit(ctx context.Context, p supervisor.Info, e supervisor.ExitInfo) (supervisor.Decision, error) {
	if pol.h.onExit == nil {
		return supervisor.Decision{}, nil
	}
	res, err := pol.v.call(ctx, pol.h, "on_exit", pol.h.onExit, func(L *lua.LState) []lua.LValue {
		return []lua.LValue{procTable(L, p), exitTable(L, e)}
	})
	if err != nil {
		return supervisor.Decision{}, err
	}
	switch x := res.(type) {
	case *lua.LNilType:
		return supervisor.Decision{}, nil
	case lua.LString:
		switch x {
		case "restart":
			return supervisor.Decision{Action: supervisor.ActionRestart}, nil
		case "stop":
			return supervisor.Decision{Action: supervisor.ActionStop}, nil
		}
	case lua.LNumber:
		if d, ok := seconds(x); ok {
			return supervisor.Decision{Action: supervisor.ActionRestart, Delay: d}, nil
		}
	}
	return supervisor.Decision{}, fmt.Errorf(`on_exit hook (%s) of %s returned %s; want "restart", "stop", a delay in seconds or nil`,
		where(pol.h.onExit), pol.h.program, describe(res))
}

// OnBackoff calls on_backoff(p, e): a delay in seconds, false to give up,
// or nil for supervisord's linear delay.
func (pol *policy) OnBackoff(ctx context.Context, p supervisor.Info, e supervisor.ExitInfo) (supervisor.BackoffDecision, error) {
	if pol.h.onBackoff == nil {
		return supervisor.BackoffDecision{Default: true}, nil
	}
	res, err := pol.v.call(ctx, pol.h, "on_backoff", pol.h.onBackoff, func(L *lua.LState) []lua.LValue {
		return []lua.LValue{procTable(L, p), exitTable(L, e)}
	})
	if err != nil {
		return supervisor.BackoffDecision{}, err
	}
	switch x := res.(type) {
	case *lua.LNilType:
		return supervisor.BackoffDecision{Default: true}, nil
	case lua.LBool:
		if !x {
			return supervisor.BackoffDecision{GiveUp: true}, nil
		}
	case lua.LNumber:
		if d, ok := seconds(x); ok {
			return supervisor.BackoffDecision{Delay: d}, nil
		}
	}
	return supervisor.BackoffDecision{}, fmt.Errorf(`on_backoff hook (%s) of %s returned %s; want a delay in seconds, false or nil`,
		where(pol.h.onBackoff), pol.h.program, describe(res))
}

// seconds converts a non-negative finite number of seconds.
func seconds(n lua.LNumber) (time.Duration, bool) {
	f := float64(n)
	if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
