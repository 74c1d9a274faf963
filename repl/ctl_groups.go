package repl

import (
	"context"

	"github.com/tend-sh/tend/supervisor"
)

// add activates groups of the config, as supervisorctl's add: an active
// group is reported and does not change the exit status.
func (x *ctl) add(ctx context.Context, groups []string) {
	rs, err := x.c.Add(ctx, groups...)
	if !x.answered(err) {
		return
	}
	for _, r := range rs {
		switch {
		case r.Error == nil:
			x.println(r.Name + ": added process group")
		case r.Error.Fault() == supervisor.FaultShutdownState:
			x.fail(exitGeneric, "ERROR: shutting down")
		case r.Error.Fault() == supervisor.FaultAlreadyAdded:
			x.println("ERROR: process group already active")
		case r.Error.Fault() == supervisor.FaultBadName:
			x.fail(exitGeneric, "ERROR: no such process/group: %s", r.Name)
		default:
			x.fail(exitGeneric, "error: %s", r.Error.Message)
			return // supervisorctl stops at an unexpected fault
		}
	}
}

// remove takes stopped groups out of the running set, as supervisorctl's
// remove.
func (x *ctl) remove(ctx context.Context, groups []string) {
	rs, err := x.c.Remove(ctx, groups...)
	if !x.answered(err) {
		return
	}
	for _, r := range rs {
		switch {
		case r.Error == nil:
			x.println(r.Name + ": removed process group")
		case r.Error.Fault() == supervisor.FaultStillRunning:
			x.fail(exitGeneric, "ERROR: process/group still running: %s", r.Name)
		case r.Error.Fault() == supervisor.FaultBadName:
			x.fail(exitGeneric, "ERROR: no such process/group: %s", r.Name)
		default:
			x.fail(exitGeneric, "error: %s", r.Error.Message)
			return
		}
	}
}
