package main

import (
	"context"
	"strings"

	"github.com/tend-sh/tend/supervisor"
)

// svControl is the sv module's view of the daemon (stdlib.Control). Lookups answer at
// once; mutations are checked, then run on their own goroutine, because
// they may be called from a hook on the VM goroutine that an update or a
// stop might be waiting on.
type svControl struct{ d *tendDaemon }

// Status returns the processes matching pattern ("" or "all" = every one).
func (c svControl) Status(pattern string) ([]supervisor.Info, error) {
	if _, err := c.d.engine(); err != nil {
		return nil, err
	}
	if pattern == "" || pattern == "all" {
		return c.d.eng.Status(), nil
	}
	names, err := c.d.eng.Resolve(pattern)
	if err != nil {
		return nil, err
	}
	out := make([]supervisor.Info, 0, len(names))
	for _, n := range names {
		i, err := c.d.eng.Info(n)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

// async validates name, then runs op in the background, logging failure.
func (d *tendDaemon) async(what, name string, op func(ctx context.Context) error) error {
	if _, err := d.engine(); err != nil {
		return err
	}
	if _, err := d.eng.Resolve(name); err != nil {
		return err
	}
	go func() {
		if err := op(context.Background()); err != nil {
			d.log.Warn("sv." + what + " " + name + ": " + err.Error())
		}
	}()
	return nil
}

// wholeGroup reports whether name designates a group ("g:*", "g:") and
// returns the group.
func wholeGroup(name string) (string, bool) {
	g, p, ok := strings.Cut(name, ":")
	return g, ok && (p == "" || p == "*")
}

func (d *tendDaemon) startName(ctx context.Context, name string) error {
	if name == "all" || name == "" {
		d.eng.StartAll(ctx, false)
		return nil
	}
	if g, ok := wholeGroup(name); ok {
		_, err := d.eng.StartGroup(ctx, g, false)
		return err
	}
	return d.eng.StartProcess(ctx, name, false)
}

func (d *tendDaemon) stopName(ctx context.Context, name string) error {
	if name == "all" || name == "" {
		d.eng.StopAll(ctx, true)
		return nil
	}
	if g, ok := wholeGroup(name); ok {
		_, err := d.eng.StopGroup(ctx, g, true)
		return err
	}
	err := d.eng.StopProcess(ctx, name, true)
	if supervisor.FaultOf(err) == supervisor.FaultNotRunning {
		return nil
	}
	return err
}

// Start requests that a process, a group ("g:*") or "all" start.
func (c svControl) Start(name string) error {
	return c.d.async("start", name, func(ctx context.Context) error { return c.d.startName(ctx, name) })
}

// Stop requests that a process, a group or "all" stop.
func (c svControl) Stop(name string) error {
	return c.d.async("stop", name, func(ctx context.Context) error { return c.d.stopName(ctx, name) })
}

// Restart requests a stop and then a start.
func (c svControl) Restart(name string) error {
	return c.d.async("restart", name, func(ctx context.Context) error {
		if err := c.d.stopName(ctx, name); err != nil {
			return err
		}
		return c.d.startName(ctx, name)
	})
}

// Signal sends a signal (name or number) to a process, a group or "all".
// Sending never waits, so it runs at once.
func (c svControl) Signal(name, sig string) error {
	if _, err := c.d.engine(); err != nil {
		return err
	}
	s, err := supervisor.ParseSignal(sig)
	if err != nil {
		return err
	}
	if name == "all" {
		_, err := c.d.eng.SignalGroup("", s)
		return err
	}
	if g, ok := wholeGroup(name); ok {
		_, err := c.d.eng.SignalGroup(g, s)
		return err
	}
	return c.d.eng.SignalProcess(name, s)
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

// Reload requests that the config be re-read and applied, as tend update.
func (c svControl) Reload() error {
	if _, err := c.d.engine(); err != nil {
		return err
	}
	go func() {
		if _, err := c.d.Update(context.Background(), nil); err != nil {
			c.d.log.Error("sv.reload: " + err.Error())
		}
	}()
	return nil
}
