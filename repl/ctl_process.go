package repl

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// status prints supervisorctl's status table for all processes or the
// named ones.
func (x *ctl) status(ctx context.Context, names []string) {
	infos, err := x.c.Status(ctx)
	if x.transport(err) {
		x.rc = statusUnknown
		return
	}
	matching := infos
	if len(names) > 0 && !containsAll(names) {
		matching = nil
		for _, name := range names {
			t := supervisor.ParseTarget(name)
			group, proc := t.Group, t.Process
			bad := true
			for _, i := range infos {
				if i.Group == group && (proc == "" || i.Name == proc) {
					bad = false
					matching = append(matching, i)
				}
			}
			if bad {
				if proc == "" {
					x.println(group + ": ERROR (no such group)")
				} else {
					x.println(name + ": ERROR (no such process)")
				}
				x.rc = statusUnknown
			}
		}
	}
	x.printStatuses(matching)
	for _, i := range matching {
		if supervisor.State(i.State).IsStopped() {
			x.rc = statusStopped
		}
	}
}

func containsAll(names []string) bool {
	for _, n := range names {
		if n == "all" {
			return true
		}
	}
	return false
}

// printStatuses prints the status lines with supervisorctl's template
// '%(namespec)-<maxlen+3>s%(state)-10s%(desc)s', maxlen at least 30.
func (x *ctl) printStatuses(infos []control.ProcessInfo) {
	maxlen := 30
	specs := make([]string, len(infos))
	for i, info := range infos {
		specs[i] = supervisor.Namespec(info.Group, info.Name)
		maxlen = max(maxlen, len(specs[i]))
	}
	var b strings.Builder
	b.Grow(len(infos) * 80)
	for i, info := range infos {
		fmt.Fprintf(&b, "%-*s%-10s%s\n", maxlen+3, specs[i], info.StateName, info.Description)
	}
	fmt.Fprint(x.out, b.String())
}

// names sends a names request, reporting transport errors.
func (x *ctl) names(ctx context.Context, path string, req control.NamesRequest) (control.NamesReply, bool) {
	var r control.NamesReply
	err := x.c.call(ctx, "POST", path, req, &r)
	if ae := apiError(err); ae != nil {
		x.fail(exitGeneric, "error: %s", ae.Message)
		return r, false
	}
	return r, !x.transport(err)
}

// opText is what one operation prints: its success word, its error texts
// by fault, the fault ignored for the exit status, and the exit status of
// an unknown group.
type opText struct {
	success    string
	errors     map[supervisor.Fault]string
	ignored    supervisor.Fault
	noGroupRC  int
	failedText bool // FAILED prints the fault string alone (stop, signal)
}

var (
	startText = opText{success: "started", ignored: supervisor.FaultAlreadyStarted, noGroupRC: exitInvalidArgs,
		errors: map[supervisor.Fault]string{
			supervisor.FaultBadName: "no such process", supervisor.FaultNoFile: "no such file",
			supervisor.FaultNotExecutable: "file is not executable", supervisor.FaultAlreadyStarted: "already started",
			supervisor.FaultSpawnError: "spawn error", supervisor.FaultAbnormalTermination: "abnormal termination"}}
	stopText = opText{success: "stopped", ignored: supervisor.FaultNotRunning, noGroupRC: exitGeneric, failedText: true,
		errors: map[supervisor.Fault]string{
			supervisor.FaultBadName: "no such process", supervisor.FaultNotRunning: "not running"}}
	signalText = opText{success: "signalled", noGroupRC: exitGeneric, failedText: true,
		errors: map[supervisor.Fault]string{
			supervisor.FaultBadName: "no such process", supervisor.FaultBadSignal: "bad signal name",
			supervisor.FaultNotRunning: "not running"}}
	clearText = opText{success: "cleared", noGroupRC: exitGeneric,
		errors: map[supervisor.Fault]string{
			supervisor.FaultBadName: "no such process", supervisor.FaultFailed: "failed"}}
)

// result formats one per-process result as supervisorctl's _startresult,
// _stopresult, _signalresult or _clearresult.
func (t opText) result(r control.Result) string {
	name := supervisor.Namespec(r.Group, r.Name)
	f := supervisor.Fault(r.Code)
	switch {
	case f == supervisor.FaultSuccess:
		return name + ": " + t.success
	case f == supervisor.FaultFailed && t.failedText:
		return r.Description
	}
	if s, ok := t.errors[f]; ok {
		return name + ": ERROR (" + s + ")"
	}
	return name + ": ERROR (" + r.Description + ")"
}

// printResults prints a names reply the way supervisorctl prints the
// replies of its per-name calls.
func (x *ctl) printResults(rs []control.NameResult, t opText) {
	for _, nr := range rs {
		target := supervisor.ParseTarget(nr.Name)
		group, proc, whole := target.Group, target.Process, !target.IsProcess()
		switch {
		case nr.Error != nil && whole:
			if nr.Error.Fault() == supervisor.FaultBadName {
				x.fail(t.noGroupRC, "%s: ERROR (no such group)", group)
			} else {
				x.fail(exitGeneric, "error: %s", nr.Error.Message)
			}
		case nr.Error != nil:
			r := control.Result{Name: proc, Group: group, Code: nr.Error.Code, Description: nr.Error.Message}
			x.println(t.result(r))
			x.faultExit(r.Code, t.ignored)
		case whole:
			for _, r := range nr.Results {
				x.println(t.result(r))
				x.faultExit(r.Code, t.ignored)
			}
		default:
			x.println(supervisor.Namespec(group, proc) + ": " + t.success)
		}
	}
}

func (x *ctl) start(ctx context.Context, names []string) {
	if len(names) == 0 {
		x.fail(exitInvalidArgs, "Error: start requires a process name")
		x.println("start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes")
		return
	}
	if r, ok := x.names(ctx, "/v1/start", control.NamesRequest{Names: normalizeAll(names)}); ok {
		x.printResults(r.Results, startText)
	}
}

func (x *ctl) stop(ctx context.Context, names []string) {
	if len(names) == 0 {
		x.fail(exitGeneric, "Error: stop requires a process name")
		x.println("stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes")
		return
	}
	if r, ok := x.names(ctx, "/v1/stop", control.NamesRequest{Names: normalizeAll(names)}); ok {
		x.printResults(r.Results, stopText)
	}
}

func (x *ctl) restart(ctx context.Context, names []string) {
	if len(names) == 0 {
		x.fail(exitInvalidArgs, "Error: restart requires a process name")
		x.println("restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes")
		return
	}
	var r control.RestartReply
	err := x.c.call(ctx, "POST", "/v1/restart", control.NamesRequest{Names: normalizeAll(names)}, &r)
	if ae := apiError(err); ae != nil {
		x.fail(exitGeneric, "error: %s", ae.Message)
		return
	}
	if x.transport(err) {
		return
	}
	x.printResults(r.Stopped, stopText)
	x.printResults(r.Started, startText)
}

func (x *ctl) signal(ctx context.Context, args []string) {
	if len(args) < 2 {
		x.fail(exitInvalidArgs, "Error: signal requires a signal name and a process name")
		x.println("signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes")
		return
	}
	req := control.NamesRequest{Signal: args[0], Names: normalizeAll(args[1:])}
	if r, ok := x.names(ctx, "/v1/signal", req); ok {
		x.printResults(r.Results, signalText)
	}
}

func (x *ctl) clear(ctx context.Context, names []string) {
	if len(names) == 0 {
		x.fail(exitGeneric, "Error: clear requires a process name")
		x.println("clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files")
		return
	}
	if r, ok := x.names(ctx, "/v1/clear", control.NamesRequest{Names: normalizeAll(names)}); ok {
		x.printResults(r.Results, clearText)
	}
}

// pid prints the daemon's pid, every process's pid (all), or the named
// processes' pids.
func (x *ctl) pid(ctx context.Context, names []string) {
	r, ok := x.names(ctx, "/v1/pid", control.NamesRequest{Names: normalizeAll(names)})
	if !ok {
		return
	}
	if len(names) == 0 {
		x.println(strconv.Itoa(r.Pid))
		return
	}
	for _, nr := range r.Results {
		if nr.Error != nil {
			x.rc = exitGeneric
			if nr.Error.Fault() == supervisor.FaultBadName {
				x.println("No such process " + nr.Name)
			} else {
				x.println("error: " + nr.Error.Message)
			}
			continue
		}
		for _, res := range nr.Results {
			x.println(strconv.Itoa(res.Pid))
			if res.Pid == 0 && nr.Name != "all" {
				x.rc = exitNotRunning
			}
		}
	}
}
