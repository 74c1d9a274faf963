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
)

// noArgs reports (and fails) a command given arguments it does not take.
func (x *ctl) noArgs(cmd string, args []string, help string) bool {
	if len(args) == 0 {
		return true
	}
	x.fail(exitGeneric, "Error: %s accepts no arguments", cmd)
	x.println(help)
	return false
}

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

func (x *ctl) version(ctx context.Context, args []string) {
	if !x.noArgs("version", args, "version\t\t\tShow the version of the remote supervisord process") {
		return
	}
	var r control.VersionReply
	if x.transport(x.c.call(ctx, "GET", "/v1/version", nil, &r)) {
		return
	}
	x.println(r.Version)
}

func (x *ctl) avail(ctx context.Context, args []string) {
	if !x.noArgs("avail", args, "avail\t\t\tDisplay all configured processes") {
		return
	}
	var r control.AvailReply
	if err := x.c.call(ctx, "GET", "/v1/avail", nil, &r); err != nil {
		x.daemonError(err, "ERROR: supervisor shutting down")
		return
	}
	for _, p := range r.Processes {
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

func (x *ctl) reread(ctx context.Context, args []string) {
	if !x.noArgs("reread", args, "reread \t\t\tReload the daemon's configuration files without add/remove") {
		return
	}
	var r control.ChangesReply
	if err := x.c.call(ctx, "POST", "/v1/reread", nil, &r); err != nil {
		x.daemonError(err, "ERROR: supervisor shutting down")
		return
	}
	words := map[string]string{"added": "available", "changed": "changed", "removed": "disappeared"}
	changes := slices.Clone(r.Changes)
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
	if slices.Contains(groups, "all") {
		groups = nil
	}
	var r control.ChangesReply
	for {
		err := x.c.call(ctx, "POST", "/v1/update", control.UpdateRequest{Groups: groups}, &r)
		ae := apiError(err)
		if ae != nil && ae.Fault() == supervisor.FaultBadName && len(groups) > 0 {
			bad, _ := strings.CutPrefix(ae.Message, "BAD_NAME: ")
			x.fail(exitGeneric, "ERROR: no such group: %s", bad)
			groups = slices.DeleteFunc(groups, func(g string) bool { return g == bad })
			if len(groups) == 0 {
				return
			}
			continue
		}
		if err != nil {
			x.daemonError(err, "ERROR: already shutting down")
			return
		}
		break
	}
	x.printUpdate(r.Changes)
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
				if len(c.Changed)+len(c.Removed) > 0 {
					x.println(c.Group + ": stopped")
				}
				x.println(c.Group + ": updated process group")
			case "added":
				x.println(c.Group + ": added process group")
			}
		}
	}
}

func (x *ctl) reload(ctx context.Context, args []string) {
	if !x.noArgs("reload", args, "reload \t\tRestart the remote supervisord.") {
		return
	}
	var r control.OKReply
	if err := x.c.call(ctx, "POST", "/v1/reload", nil, &r); err != nil {
		x.daemonError(err, "ERROR: already shutting down")
		return
	}
	x.println("Restarted supervisord")
}

func (x *ctl) shutdown(ctx context.Context, args []string) {
	if !x.noArgs("shutdown", args, "shutdown \tShut the remote supervisord down.") {
		return
	}
	var r control.OKReply
	err := x.c.call(ctx, "POST", "/v1/shutdown", nil, &r)
	if ae := apiError(err); ae != nil {
		if ae.Fault() == supervisor.FaultShutdownState {
			x.println("ERROR: already shutting down")
			return
		}
		x.fail(exitGeneric, "error: %s", ae.Message)
		return
	}
	var ce *ConnError
	if asConnError(err, &ce) {
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
	if len(args) != 2 {
		x.fail(exitInvalidArgs, "Error: scale requires a program name and a number of processes")
		x.println("scale <program> <n>\tRun n instances of a program")
		return
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		x.fail(exitInvalidArgs, "Error: bad number of processes %q", args[1])
		return
	}
	var r control.ChangesReply
	err = x.c.call(ctx, "POST", "/v1/scale", control.ScaleRequest{Program: args[0], N: n}, &r)
	if ae := apiError(err); ae != nil {
		x.rc = exitGeneric
		x.errorf("ERROR: %s", ae.Message)
		return
	}
	if x.transport(err) {
		return
	}
	if len(r.Changes) == 0 {
		x.println(args[0] + ": already at " + args[1])
		return
	}
	for _, c := range r.Changes {
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
	if len(args) == 0 {
		x.fail(exitInvalidArgs, "Error: eval requires a Lua chunk")
		return
	}
	out, err := x.c.Eval(ctx, strings.Join(args, " "))
	var le *LuaError
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
	var ce *ConnError
	if asConnError(err, &ce) {
		x.rc = exitGeneric
		x.errorf("%s", ce.Error())
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
