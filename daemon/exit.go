package daemon

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/vm"
)

// Exit is how the daemon ended: tend's exit status and the reason, which
// the log names ("tend exiting with status 3: ...").
type Exit struct {
	Code  int
	Cause string
}

// MainName is the program `tend daemon -- CMD ARGS...` runs CMD as.
const MainName = "main"

// mainSpec is the main command of `tend daemon -- CMD ARGS...`: an
// essential program, started last and stopped first, never restarted,
// RUNNING at once (s6-overlay's CMD), its output on tend's own.
func mainSpec(argv []string) supervisor.Spec {
	s := supervisor.NewSpec(MainName, argv...)
	s.CommandLine = strings.Join(argv, " ")
	s.Essential = true
	s.AutoRestart = supervisor.RestartNever
	s.StartSecs, s.StartRetries = 0, 0
	s.Priority, s.GroupPriority = 1000, 1000
	s.Stdout = supervisor.LogSpec{Path: "/dev/stdout"}
	s.Stderr = supervisor.LogSpec{Path: "/dev/stderr"}
	return s
}

// withMain adds the main command, if there is one, to specs; a program of
// the config with its name is an error.
func (d *Daemon) withMain(specs []supervisor.Spec) ([]supervisor.Spec, error) {
	if len(d.opts.Main) == 0 {
		return specs, nil
	}
	if slices.ContainsFunc(specs, func(s supervisor.Spec) bool { return s.Group == MainName }) {
		return nil, fmt.Errorf("the config declares %q, the name of the main command given after --", MainName)
	}
	return append(slices.Clone(specs), mainSpec(d.opts.Main)), nil
}

// exitCode is the exit status an ended process hands on: its code, 128 +
// the signal that killed it, or 1 for a FATAL that never got an exit
// status (spawn failures, or exits too quick to count).
func exitCode(ev supervisor.Event) int {
	switch {
	case ev.Signal != 0:
		return 128 + int(ev.Signal)
	case ev.To == supervisor.Fatal && ev.ExitCode <= 0:
		return 1
	}
	return max(ev.ExitCode, 0)
}

// describeEnd says how a process ended, for the exit log line.
func describeEnd(ev supervisor.Event) string {
	ns := supervisor.Namespec(ev.Group, ev.Process)
	switch {
	case ev.To == supervisor.Fatal:
		return fmt.Sprintf("%s entered FATAL", ns)
	case ev.Signal != 0:
		return fmt.Sprintf("%s was killed by SIG%s", ns, supervisor.SignalName(ev.Signal))
	}
	return fmt.Sprintf("%s exited with status %d", ns, ev.ExitCode)
}

// exitWatch follows the engine's events for the exit policy: an essential
// program that ended for good, or (exit_when_done) nothing left to run.
// It only decides; the daemon shuts down.
type exitWatch struct {
	running bool            // SUPERVISOR_STATE_CHANGE_RUNNING seen: the config's processes were started
	pending map[string]bool // EXITED, restart not yet decided
	// firstBad is the first unexpected end, for exit_when_done.
	firstBad *supervisor.Event
}

// step takes one event and returns the exit it calls for, if any.
func (w *exitWatch) step(ev supervisor.Event, eng *supervisor.Engine, whenDone bool) *Exit {
	ns := supervisor.Namespec(ev.Group, ev.Process)
	switch ev.Type {
	case supervisor.EventSupervisorRunning:
		w.running = true
	case supervisor.EventProcessState:
		if ev.To == supervisor.Exited {
			w.pending[ns] = true
			if !ev.Expected && w.firstBad == nil {
				w.firstBad = &ev
			}
		} else {
			delete(w.pending, ns)
		}
	case supervisor.EventProcessDone:
		delete(w.pending, ns)
		if !ev.Expected && w.firstBad == nil {
			w.firstBad = &ev
		}
		if info, err := eng.Info(ns); err == nil && info.Essential {
			what := "essential program " + describeEnd(ev)
			if ev.Group == MainName && ev.Process == MainName {
				what = "the main command " + strings.TrimPrefix(describeEnd(ev), MainName+" ")
			}
			return &Exit{Code: exitCode(ev), Cause: what}
		}
	default:
		return nil
	}
	if !whenDone || !w.running || len(w.pending) > 0 {
		return nil
	}
	for _, i := range eng.Status() {
		// A process waiting for its requirements (requires) will start.
		if !i.State.IsStopped() || i.State == supervisor.Backoff || i.Waiting != "" {
			return nil
		}
	}
	if w.firstBad == nil {
		return &Exit{Code: 0, Cause: "every program is done, all as expected (exit_when_done)"}
	}
	return &Exit{Code: exitCode(*w.firstBad), Cause: "every program is done; the first unexpected end: " +
		describeEnd(*w.firstBad) + " (exit_when_done)"}
}

// watchExits runs the exit policy over sub until the daemon shuts down:
// the first exit it calls for is kept and shuts the daemon down.
func (d *Daemon) watchExits(eng *supervisor.Engine, sub *supervisor.Subscription) {
	defer sub.Close()
	w := &exitWatch{pending: map[string]bool{}}
	for {
		select {
		case ev := <-sub.C:
			d.mu.Lock()
			whenDone := d.cfg != nil && d.cfg.Daemon.ExitWhenDone
			d.mu.Unlock()
			if x := w.step(ev, eng, whenDone); x != nil {
				d.exitWith(*x)
				return
			}
		case <-d.shutdownCh:
			return
		}
	}
}

// exitWith records why the daemon ends, once, and shuts it down.
func (d *Daemon) exitWith(x Exit) {
	d.exitMu.Lock()
	if d.exit == nil {
		d.exit = &x
		d.log.Warn("shutting down: " + x.Cause)
	}
	d.exitMu.Unlock()
	d.Shutdown()
}

// finalExit is tend's exit status once everything stopped: the exit
// policy's if it decided one, else for a signal 0 when every program
// stopped within its stopwaitsecs and 137 when one needed SIGKILL (0 for
// a shutdown asked for through the control plane), then remapped by
// daemon{ exit_codes }.
func (d *Daemon) finalExit(sig os.Signal, res supervisor.ShutdownResult, dn vm.Daemon) Exit {
	d.exitMu.Lock()
	x := d.exit
	d.exitMu.Unlock()
	var out Exit
	switch {
	case x != nil:
		out = *x
	case sig != nil:
		name := "SIG" + supervisor.SignalName(sig.(syscall.Signal))
		out = Exit{Code: 0, Cause: "received " + name + "; every program stopped within its stopwaitsecs"}
		if len(res.Killed) > 0 {
			out = Exit{Code: 137, Cause: "received " + name + "; killed with SIGKILL: " + strings.Join(res.Killed, ", ")}
		}
	default:
		out = Exit{Code: 0, Cause: "shutdown requested"}
	}
	if to, ok := dn.ExitCodes[out.Code]; ok && to != out.Code {
		out.Cause += " (exit_codes maps " + strconv.Itoa(out.Code) + " to " + strconv.Itoa(to) + ")"
		out.Code = to
	}
	if v := d.current(); v != nil && dn.ExitCodeHook != "" {
		// The state is still open: Close comes after Run.
		to, err := v.ExitCode(context.Background(), out.Code, out.Cause)
		switch {
		case err != nil:
			d.log.Error("choosing the exit status: " + err.Error() + "; keeping " + strconv.Itoa(out.Code))
		case to != out.Code:
			out.Cause += " (the exit_codes function at " + dn.ExitCodeHook + " chose " + strconv.Itoa(to) + " over " + strconv.Itoa(out.Code) + ")"
			out.Code = to
		}
	}
	return out
}
