package vm

import (
	"context"
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// Observe hands an engine event to the VM; the daemon calls it for every
// event. It never blocks: PROCESS_STATE events of processes with on_start
// or on_state hooks are queued for the owner goroutine (on_start runs when
// the process reaches RUNNING, on_state on every transition), and when the
// queue is full the event is dropped with a log line.
func (v *VM) Observe(ev supervisor.Event) {
	if ev.Type != supervisor.EventProcessState && ev.Type != supervisor.EventProcessReady {
		return
	}
	ns := supervisor.Namespec(ev.Group, ev.Process)
	v.mu.Lock()
	_, ok := v.observers[ns]
	v.mu.Unlock()
	if !ok {
		return
	}
	if where, stuck := v.Stuck(); stuck {
		_ = v.stuckError(where) // logs it and tells the daemon, once
		return
	}
	select {
	case v.events <- ev:
	default:
		v.mu.Lock()
		v.dropped++
		n := v.dropped
		v.mu.Unlock()
		v.log.Warn(fmt.Sprintf("hook queue full: dropped %s event for %s (%d dropped so far)", ev.Name(), ns, n))
	}
}

// observe runs the notification hooks for one event on the owner goroutine.
func (v *VM) observe(ev supervisor.Event) {
	ns := supervisor.Namespec(ev.Group, ev.Process)
	v.mu.Lock()
	h := v.observers[ns]
	v.mu.Unlock()
	if h == nil {
		return
	}
	if ev.Type == supervisor.EventProcessReady {
		if h.onReady != nil {
			info := v.infoFor(ev)
			info.State, info.Ready = supervisor.Starting, true
			v.notify(h, "on_ready", h.onReady, func(L *lua.LState) []lua.LValue {
				return []lua.LValue{procTable(L, info)}
			})
		}
		return
	}
	info := v.infoFor(ev)
	if h.onStart != nil && ev.To == supervisor.Running {
		v.notify(h, "on_start", h.onStart, func(L *lua.LState) []lua.LValue {
			return []lua.LValue{procTable(L, info)}
		})
	}
	if h.onState != nil {
		v.notify(h, "on_state", h.onState, func(L *lua.LState) []lua.LValue {
			return []lua.LValue{procTable(L, info), lua.LString(ev.From.String()), lua.LString(ev.To.String())}
		})
	}
}

// infoFor builds p for a notification: the live snapshot when a daemon is
// attached, else what the event tells.
func (v *VM) infoFor(ev supervisor.Event) supervisor.Info {
	ns := supervisor.Namespec(ev.Group, ev.Process)
	if v.opts.Control != nil {
		if infos, err := v.opts.Control.Status(ns); err == nil && len(infos) == 1 {
			in := infos[0]
			in.State, in.Pid = ev.To, ev.Pid
			return in
		}
	}
	now := time.Now()
	return supervisor.Info{Name: ev.Process, Group: ev.Group, Program: v.programOf(ns), State: ev.To, Pid: ev.Pid, Now: now, Start: now}
}

func (v *VM) programOf(ns string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h := v.observers[ns]; h != nil {
		return h.program
	}
	return ""
}

// notify runs a notification hook directly: observe already runs on the
// owner goroutine, so it cannot go through run's queue.
func (v *VM) notify(h *hooks, name string, fn *lua.LFunction, args func(L *lua.LState) []lua.LValue) {
	ctx, cancel := context.WithTimeout(v.life, h.timeout)
	defer cancel()
	start := time.Now()
	what := fmt.Sprintf("%s hook (%s) of %s", name, where(fn), h.program)
	err := v.runJob(v.L, ctx, what, func(L *lua.LState) error {
		L.Push(fn)
		a := args(L)
		for _, x := range a {
			L.Push(x)
		}
		if err := L.PCall(len(a), 0, v.onError); err != nil {
			return errors.New(luaMessage(err))
		}
		return nil
	})
	v.hookCounts.record(start, err != nil, err != nil && ctx.Err() != nil)
	if err != nil {
		v.log.Error(fmt.Sprintf("%s: %s", what, hookFailure(err, h.timeout)))
	}
}
