package repl

import (
	"context"
	"errors"
	"iter"
	"slices"
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
	var rows statusRows
	var err error
	if len(names) == 0 || slices.Contains(names, "all") {
		// Every process: the lines are kept as they arrive, not the reply
		// nor its list (at 5000 processes, the fresh memory of those was
		// most of tend status's time).
		err = x.c.EachStatus(ctx, rows.add)
	} else {
		var infos []control.ProcessInfo
		infos, err = x.c.Status(ctx, names...)
		for _, i := range infos {
			rows.add(i)
		}
	}
	err, missing := x.reportUnknown(err)
	if x.transport(err) {
		x.rc = statusUnknown
		return
	}
	if missing {
		x.rc = statusUnknown
	}
	x.printStatuses(&rows)
	for r := range rows.all() {
		if r.stopped {
			x.rc = statusStopped
		}
	}
}

// statusRow is what a status line shows of a process.
type statusRow struct {
	group, name, state, desc string
	stopped                  bool
}

// statusRows are the rows of a status table, kept in chunks: a slice
// grown by append would leave copies of itself behind, several times the
// rows' memory at thousands of them.
type statusRows struct{ chunks [][]statusRow }

// statusRowChunk is how many rows a chunk holds.
const statusRowChunk = 512

// add keeps the row of i.
func (r *statusRows) add(i control.ProcessInfo) {
	if n := len(r.chunks); n == 0 || len(r.chunks[n-1]) == statusRowChunk {
		r.chunks = append(r.chunks, make([]statusRow, 0, statusRowChunk))
	}
	last := &r.chunks[len(r.chunks)-1]
	*last = append(*last, statusRow{group: i.Group, name: i.Name, state: i.StateName, desc: i.Description,
		stopped: supervisor.State(i.State).IsStopped()})
}

// all yields the rows in order.
func (r *statusRows) all() iter.Seq[*statusRow] {
	return func(yield func(*statusRow) bool) {
		for _, c := range r.chunks {
			for i := range c {
				if !yield(&c[i]) {
					return
				}
			}
		}
	}
}

// statusChunk is how much of the status table is written at once.
const statusChunk = 32 << 10

// printStatuses prints the status lines with supervisorctl's template
// '%(namespec)-<maxlen+3>s%(state)-10s%(desc)s', maxlen at least 30. The
// lines are appended by hand into one buffer written as it fills: fmt's
// padding, a string per namespec and a buffer of the whole table were
// most of the formatting of 5000 lines.
func (x *ctl) printStatuses(rows *statusRows) {
	maxlen := 30
	for r := range rows.all() {
		maxlen = max(maxlen, namespecLen(r.group, r.name))
	}
	width := maxlen + 3
	b := make([]byte, 0, statusChunk)
	for r := range rows.all() {
		start := len(b)
		if r.group != r.name {
			b = append(append(b, r.group...), ':')
		}
		b = append(b, r.name...)
		b = appendPad(b, width-utf8.RuneCount(b[start:]))
		b = append(b, r.state...)
		b = appendPad(b, 10-utf8.RuneCountInString(r.state))
		b = append(append(b, r.desc...), '\n')
		if len(b) >= statusChunk-256 {
			x.out.Write(b)
			b = b[:0]
		}
	}
	if len(b) > 0 {
		x.out.Write(b)
	}
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
