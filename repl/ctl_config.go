package repl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// daemonError reports a fault or transport error of a daemon-wide command
// (reread, update, avail, reload) as supervisorctl does.
func (x *ctl) daemonError(err error, shutdownText string) {
	if ae := apiError(err); ae != nil {
		x.rc = exitGeneric
		switch ae.Fault() {
		case supervisor.FaultShutdownState:
			x.println(shutdownText)
		default:
			x.println("ERROR: " + ae.Message)
		}
		return
	}
	if x.transport(err) {
		x.rc = exitGeneric
	}
}

func (x *ctl) version(ctx context.Context, _ []string) {
	r, err := x.c.Version(ctx)
	if x.transport(err) {
		return
	}
	x.println(r.Version)
}

func (x *ctl) avail(ctx context.Context, _ []string) {
	procs, err := x.c.Avail(ctx)
	if err != nil {
		x.daemonError(err, "ERROR: supervisor shutting down")
		return
	}
	for _, p := range procs {
		inuse, auto := "avail", "manual"
		if p.InUse {
			inuse = "in use"
		}
		if p.AutoStart {
			auto = "auto"
		}
		x.printf("%-32s %-9s %-9s %d:%d\n", supervisor.Namespec(p.Group, p.Name), inuse, auto, p.GroupPriority, p.Priority)
	}
}

func (x *ctl) reread(ctx context.Context, _ []string) {
	changes, err := x.c.Reread(ctx)
	if err != nil {
		x.daemonError(err, "ERROR: supervisor shutting down")
		return
	}
	words := map[string]string{"added": "available", "changed": "changed", "removed": "disappeared"}
	slices.SortFunc(changes, func(a, b control.Change) int { return strings.Compare(a.Group, b.Group) })
	if len(changes) == 0 {
		x.println("No config updates to processes")
		return
	}
	for _, c := range changes {
		x.printf("%s: %s\n", c.Group, words[c.Kind])
	}
	for _, c := range changes {
		x.details(c)
	}
}

// details prints tend's account of one change below supervisorctl's line:
// which processes appear, disappear or change, and the options that differ.
func (x *ctl) details(c control.Change) {
	spec := func(names []string) string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = supervisor.Namespec(c.Group, n)
		}
		return strings.Join(out, ", ")
	}
	switch {
	case c.Kind == "added":
		x.printf("  %s: new processes %s\n", c.Group, spec(c.Added))
	case c.Kind == "removed":
		x.printf("  %s: processes gone %s\n", c.Group, spec(c.Removed))
	case c.Scaled:
		var parts []string
		if len(c.Added) > 0 {
			parts = append(parts, "adds "+spec(c.Added))
		}
		if len(c.Removed) > 0 {
			parts = append(parts, "removes "+spec(c.Removed))
		}
		x.printf("  %s: scaled: %s\n", c.Group, strings.Join(parts, "; "))
	default:
		if len(c.Changed) > 0 {
			x.printf("  %s: %s changed (%s)\n", c.Group, spec(c.Changed), strings.Join(c.Fields, ", "))
		}
		if len(c.Added) > 0 {
			x.printf("  %s: new processes %s\n", c.Group, spec(c.Added))
		}
		if len(c.Removed) > 0 {
			x.printf("  %s: processes gone %s\n", c.Group, spec(c.Removed))
		}
	}
}

// update applies the config: all groups, or the named ones.
func (x *ctl) update(ctx context.Context, groups []string) {
	changes, err := x.c.Update(ctx, groups...)
	var unknown *client.UnknownNamesError
	if errors.As(err, &unknown) {
		for _, g := range unknown.Names {
			x.fail(exitGeneric, "ERROR: no such group: %s", g)
		}
		err = unknown.Err
	}
	if err != nil {
		x.daemonError(err, "ERROR: already shutting down")
		return
	}
	x.printUpdate(changes)
}

// printUpdate prints what update did in supervisorctl's words: removed
// groups, then changed ones, then added ones.
func (x *ctl) printUpdate(changes []control.Change) {
	for _, kind := range []string{"removed", "changed", "added"} {
		for _, c := range changes {
			if c.Kind != kind {
				continue
			}
			switch kind {
			case "removed":
				x.println(c.Group + ": stopped")
				x.println(c.Group + ": removed process group")
			case "changed":
				x.printStopped(c)
				x.println(c.Group + ": updated process group")
			case "added":
				x.println(c.Group + ": added process group")
			}
		}
	}
}

// printStopped says what a changed group's update stopped. When some of
// its processes keep running (numprocs lowered, one instance changed), it
// names each stopped process as `stop` does: "web:web_2: stopped"; a group
// stopped whole is "web: stopped", as supervisorctl, which always
// restarts the whole group, says.
func (x *ctl) printStopped(c control.Change) {
	if len(c.Changed)+len(c.Removed) == 0 {
		return
	}
	if c.Kept == 0 {
		x.println(c.Group + ": stopped")
		return
	}
	for _, name := range slices.Sorted(slices.Values(append(slices.Clone(c.Removed), c.Changed...))) {
		x.println(supervisor.Namespec(c.Group, name) + ": stopped")
	}
}

func (x *ctl) reload(ctx context.Context, _ []string) {
	if err := x.c.Reload(ctx); err != nil {
		x.daemonError(err, "ERROR: already shutting down")
		return
	}
	x.println("Restarted supervisord")
}

func (x *ctl) shutdown(ctx context.Context, _ []string) {
	err := x.c.Shutdown(ctx)
	if ae := apiError(err); ae != nil {
		if ae.Fault() == supervisor.FaultShutdownState {
			x.println("ERROR: already shutting down")
			return
		}
		x.fail(exitGeneric, "error: %s", ae.Message)
		return
	}
	var ce *client.ConnError
	if errors.As(err, &ce) {
		x.fail(exitGeneric, "ERROR: %s (already shut down?)", ce.Error())
		return
	}
	if x.transport(err) {
		return
	}
	x.println("Shut down")
}

// scale sets the number of instances of a program: scale PROGRAM N.
func (x *ctl) scale(ctx context.Context, args []string) {
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		x.fail(exitInvalidArgs, "Error: bad number of processes %q", args[1])
		return
	}
	changes, err := x.c.Scale(ctx, args[0], n)
	if ae := apiError(err); ae != nil {
		x.rc = exitGeneric
		x.errorf("ERROR: %s", ae.Message)
		return
	}
	if x.transport(err) {
		return
	}
	if len(changes) == 0 {
		x.println(args[0] + ": already at " + args[1])
		return
	}
	for _, c := range changes {
		for _, name := range c.Removed {
			x.println(supervisor.Namespec(c.Group, name) + ": removed")
		}
		for _, name := range c.Added {
			x.println(supervisor.Namespec(c.Group, name) + ": added")
		}
	}
}

// eval runs a Lua chunk in the daemon and prints what it printed and
// returned; errors go to stderr with status 1.
func (x *ctl) eval(ctx context.Context, args []string) {
	out, err := x.c.Eval(ctx, strings.Join(args, " "))
	var le *client.LuaError
	if errors.As(err, &le) {
		fmt.Fprint(x.out, out)
		x.rc = exitGeneric
		x.errorf("%s", le.Message)
		return
	}
	if ae := apiError(err); ae != nil {
		x.rc = exitGeneric
		x.errorf("%s", ae.Message)
		return
	}
	var ce *client.ConnError
	if errors.As(err, &ce) {
		x.rc = exitGeneric
		x.errorf("%s", ce.Error())
		x.startHint(ce)
		return
	}
	if x.transport(err) {
		return
	}
	if out != "" {
		fmt.Fprint(x.out, out)
		if !strings.HasSuffix(out, "\n") {
			x.println()
		}
	}
}
