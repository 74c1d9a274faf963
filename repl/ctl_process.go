package repl

import (
	"context"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// reportUnknown prints supervisorctl's line for each name a lookup found
// nothing for, and returns what else failed and whether a name was unknown.
func (x *ctl) reportUnknown(err error) (error, bool) {
	var unknown *client.UnknownNamesError
	if !errors.As(err, &unknown) {
		return err, false
	}
	for _, name := range unknown.Names {
		if t := supervisor.ParseTarget(name); !t.IsProcess() {
			x.println(t.Group + ": ERROR (no such group)")
		} else {
			x.println(name + ": ERROR (no such process)")
		}
	}
	return unknown.Err, true
}

// status prints supervisorctl's status table for all processes or the
// named ones.
func (x *ctl) status(ctx context.Context, names []string) {
	infos, err := x.c.Status(ctx, names...)
	err, missing := x.reportUnknown(err)
	if x.transport(err) {
		x.rc = statusUnknown
		return
	}
	if missing {
		x.rc = statusUnknown
	}
	x.printStatuses(infos)
	for _, i := range infos {
		if supervisor.State(i.State).IsStopped() {
			x.rc = statusStopped
		}
	}
}

// printStatuses prints the status lines with supervisorctl's template
// '%(namespec)-<maxlen+3>s%(state)-10s%(desc)s', maxlen at least 30, in
// one write. The lines are appended by hand: fmt's padding and a string
// per namespec were most of the formatting of 5000 lines.
func (x *ctl) printStatuses(infos []control.ProcessInfo) {
	maxlen := 30
	size := 0
	for _, info := range infos {
		n := namespecLen(info.Group, info.Name)
		maxlen = max(maxlen, n)
		size += n + len(info.StateName) + len(info.Description)
	}
	width := maxlen + 3
	b := make([]byte, 0, size+len(infos)*(width+10))
	for _, info := range infos {
		start := len(b)
		if info.Group != info.Name {
			b = append(append(b, info.Group...), ':')
		}
		b = append(b, info.Name...)
		b = appendPad(b, width-utf8.RuneCount(b[start:]))
		b = append(b, info.StateName...)
		b = appendPad(b, 10-utf8.RuneCountInString(info.StateName))
		b = append(append(b, info.Description...), '\n')
	}
	x.out.Write(b)
}

// namespecLen is len(supervisor.Namespec(group, name)) without building
// it.
func namespecLen(group, name string) int {
	if group == name {
		return len(name)
	}
	return len(group) + 1 + len(name)
}

// appendPad appends n spaces (none when n <= 0), as fmt pads a field to
// its width in runes.
func appendPad(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// answered reports err unless it is nil; a fault of the whole request
// prints as supervisorctl prints an unexpected fault.
func (x *ctl) answered(err error) bool {
	if ae := apiError(err); ae != nil {
		x.fail(exitGeneric, "error: %s", ae.Message)
		return false
	}
	return !x.transport(err)
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
	if rs, err := x.c.Start(ctx, names...); x.answered(err) {
		x.printResults(rs, startText)
	}
}

func (x *ctl) stop(ctx context.Context, names []string) {
	if rs, err := x.c.Stop(ctx, names...); x.answered(err) {
		x.printResults(rs, stopText)
	}
}

func (x *ctl) restart(ctx context.Context, args []string) {
	ra, bad := parseRollArgs(args)
	switch {
	case bad != "":
		x.fail(exitInvalidArgs, "%s", bad)
		return
	case ra.rolling:
		x.roll(ctx, ra)
		return
	}
	if r, err := x.c.Restart(ctx, ra.names...); x.answered(err) {
		x.printResults(r.Stopped, stopText)
		x.printResults(r.Started, startText)
	}
}

func (x *ctl) signal(ctx context.Context, args []string) {
	if rs, err := x.c.Signal(ctx, args[0], args[1:]...); x.answered(err) {
		x.printResults(rs, signalText)
	}
}

func (x *ctl) clear(ctx context.Context, names []string) {
	if rs, err := x.c.Clear(ctx, names...); x.answered(err) {
		x.printResults(rs, clearText)
	}
}

// pid prints the daemon's pid, every process's pid (all), or the named
// processes' pids.
func (x *ctl) pid(ctx context.Context, names []string) {
	daemon, rs, err := x.c.Pid(ctx, names...)
	if !x.answered(err) {
		return
	}
	if len(names) == 0 {
		x.println(strconv.Itoa(daemon))
		return
	}
	for _, nr := range rs {
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
