package daemon

import (
	"context"
	"fmt"

	"github.com/tend-sh/tend/supervisor"
)

// svControl is the sv module's view of the daemon (stdlib.Control).
// Lookups answer at once; mutations are checked, then run on their own
// goroutine, because they may be called from a hook on the Lua goroutine
// that an update or a stop might be waiting on.
type svControl struct{ d *Daemon }

// target parses a name as sv takes it: a process, "group:*" or "all"
// ("" also means all).
func target(name string) supervisor.Target {
	if name == "" {
		return supervisor.AllTarget
	}
	return supervisor.ParseTarget(name)
}

// Status returns the processes a name designates ("" or "all" = every one).
func (c svControl) Status(name string) ([]supervisor.Info, error) {
	eng, err := c.d.engine()
	if err != nil {
		return nil, err
	}
	t := target(name)
	if t.All {
		return eng.Status(), nil
	}
	names, err := eng.Targets(t)
	if err != nil {
		return nil, err
	}
	out := make([]supervisor.Info, 0, len(names))
	for _, n := range names {
		i, err := eng.Info(n)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

// async checks that name designates something, then runs op on it in the
// background, logging a failure.
func (c svControl) async(what, name string, op func(ctx context.Context, eng *supervisor.Engine, t supervisor.Target) error) error {
	eng, err := c.d.engine()
	if err != nil {
		return err
	}
	t := target(name)
	if _, err := eng.Targets(t); err != nil {
		return err
	}
	go func() {
		if err := op(context.Background(), eng, t); err != nil {
			c.d.log.Warn("sv." + what + " " + name + ": " + err.Error())
		}
	}()
	return nil
}

// firstErr is the first failure among results, or err.
func firstErr(rs []supervisor.Result, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil && r.Fault != supervisor.FaultNotRunning {
			return r.Err
		}
	}
	return nil
}

// Start requests that a process, a group ("g:*") or "all" start.
func (c svControl) Start(name string) error {
	return c.async("start", name, func(ctx context.Context, eng *supervisor.Engine, t supervisor.Target) error {
		return firstErr(eng.Start(ctx, t, false))
	})
}

// Stop requests that a process, a group or "all" stop.
func (c svControl) Stop(name string) error {
	return c.async("stop", name, func(ctx context.Context, eng *supervisor.Engine, t supervisor.Target) error {
		return firstErr(eng.Stop(ctx, t, true))
	})
}

// Restart requests a stop and then a start.
func (c svControl) Restart(name string) error {
	return c.async("restart", name, func(ctx context.Context, eng *supervisor.Engine, t supervisor.Target) error {
		_, started, err := eng.Restart(ctx, t, false)
		return firstErr(started, err)
	})
}

// Signal sends a signal (name or number) to a process, a group or "all".
// Sending never waits, so it runs at once.
func (c svControl) Signal(name, sig string) error {
	eng, err := c.d.engine()
	if err != nil {
		return err
	}
	s, err := supervisor.ParseSignal(sig)
	if err != nil {
		return err
	}
	t := target(name)
	rs, err := eng.Signal(t, s)
	if err != nil {
		return err
	}
	if t.IsProcess() {
		return rs[0].Err
	}
	return nil
}

// Scale requests n instances of a program.
func (c svControl) Scale(program string, n int) error {
	if _, err := c.d.engine(); err != nil {
		return err
	}
	go func() {
		if _, err := c.d.Scale(context.Background(), program, n); err != nil {
			c.d.log.Warn("sv.scale " + program + ": " + err.Error())
		}
	}()
	return nil
}

// Update requests that the config be re-read and applied, as tend update.
func (c svControl) Update() error {
	if _, err := c.d.engine(); err != nil {
		return err
	}
	go func() {
		if _, err := c.d.Update(context.Background(), nil); err != nil {
			c.d.log.Error("sv.update: " + err.Error())
		}
	}()
	return nil
}

// Events returns the engine's history of state changes (sv.events).
func (c svControl) Events() ([]supervisor.StateChange, error) {
	eng, err := c.d.engine()
	if err != nil {
		return nil, err
	}
	return eng.History(), nil
}

// Roll starts a rolling restart (tend restart --rolling) and returns once
// it is under way: sv.roll may be called from a hook, which must never
// wait for processes. Each instance done is logged, and so is the
// outcome; a roll that stops logs which instance failed and why.
func (c svControl) Roll(name string, maxSurge, maxUnavailable int) error {
	if maxSurge < 0 || maxUnavailable < 0 || maxSurge+maxUnavailable == 0 {
		return fmt.Errorf("max_surge (%d) and max_unavailable (%d) must be >= 0 and not both 0", maxSurge, maxUnavailable)
	}
	return c.async("roll", name, func(ctx context.Context, eng *supervisor.Engine, t supervisor.Target) error {
		opts := supervisor.RollOptions{MaxSurge: maxSurge, MaxUnavailable: maxUnavailable,
			Progress: func(s supervisor.RollStep) { c.d.log.Info("sv.roll " + name + ": " + s.String()) }}
		if err := eng.Roll(ctx, t, opts); err != nil {
			return err
		}
		c.d.log.Info("sv.roll " + name + ": done")
		return nil
	})
}
