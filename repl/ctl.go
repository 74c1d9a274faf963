package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// Exit codes of supervisorctl 4.2.5 (its LSB init and status schemes).
const (
	exitOK          = 0
	exitGeneric     = 1
	exitInvalidArgs = 2
	exitNoAuth      = 4 // INSUFFICIENT_PRIVILEGES: connection refused
	exitNotRunning  = 7 // a dead program, or no socket file
	statusStopped   = 3 // status: something listed is stopped
	statusUnknown   = 4 // status: unknown name, or server unreachable
)

// ctl is one command run: where output goes and the exit status so far.
type ctl struct {
	c      *client.Client
	in     LineReader // fg's input; nil means none
	out    io.Writer
	errOut io.Writer
	hint   string // how to start a daemon, said when none answers
	rc     int
}

// LineReader gives lines of input without their newline, io.EOF at the
// end; fg sends them to a process's stdin.
type LineReader interface {
	ReadLine(prompt string) (string, error)
}

// Streams is where a ctl command reads and writes.
type Streams struct {
	// In is fg's input, the lines it sends to the process; nil is an
	// empty input.
	In       LineReader
	Out, Err io.Writer
	// StartHint, when set, is printed on Err after supervisorctl's "no
	// such file" or "refused connection": how to start a daemon there.
	StartHint string
}

// NewLineReader returns a LineReader of the lines of r.
func NewLineReader(r io.Reader) LineReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	return &plainReader{sc: sc}
}

func (x *ctl) println(a ...any)                { fmt.Fprintln(x.out, a...) }
func (x *ctl) printf(f string, a ...any)       { fmt.Fprintf(x.out, f, a...) }
func (x *ctl) errorf(f string, a ...any)       { fmt.Fprintf(x.errOut, f+"\n", a...) }
func (x *ctl) fail(rc int, f string, a ...any) { x.printf(f+"\n", a...); x.rc = rc }

// RunCommand runs one ctl command against the daemon c talks to, args
// like ["status"] or ["restart", "web:*"], printing exactly what
// supervisorctl prints, and returns its exit code.
func RunCommand(ctx context.Context, c *client.Client, args []string, stdout, stderr io.Writer) int {
	return RunCommandWith(ctx, c, args, Streams{Out: stdout, Err: stderr})
}

// RunCommandWith is RunCommand with fg's input and the hint to print when
// no daemon answers.
func RunCommandWith(ctx context.Context, c *client.Client, args []string, st Streams) int {
	if len(args) == 0 {
		return exitOK
	}
	x := &ctl{c: c, in: st.In, out: st.Out, errOut: st.Err, hint: st.StartHint}
	cmd := lookup(args[0])
	if cmd == nil || cmd.at != ctlCmd {
		x.fail(exitGeneric, "*** Unknown syntax: %s", strings.Join(args, " "))
		return x.rc
	}
	args = args[1:]
	if msg := cmd.argsError(len(args)); msg != "" {
		x.fail(cmd.argsRC, "%s", msg)
		if !cmd.noUsage {
			x.println(cmd.helpText())
		}
		return x.rc
	}
	cmd.run(x, ctx, args)
	return x.rc
}

// help prints the list of commands, or the help of one.
func (x *ctl) help(_ context.Context, args []string) {
	writeHelp(x.out, strings.Join(args, " "))
}

// transport reports an error that is not an answer from the daemon:
// unreachable server (upcheck's texts and codes), missing credentials, or
// anything else. It returns false when err is nil.
func (x *ctl) transport(err error) bool {
	if err == nil {
		return false
	}
	var ce *client.ConnError
	switch {
	case errors.As(err, &ce):
		rc := exitGeneric
		switch {
		case ce.NoSuchFile():
			rc = exitNotRunning
		case ce.Refused():
			rc = exitNoAuth
		}
		x.fail(rc, "%s", ce.Error())
		x.startHint(ce)
	case errors.Is(err, client.ErrUnauthorized):
		x.fail(exitGeneric, "Server requires authentication")
	case errors.Is(err, context.Canceled):
		x.rc = exitGeneric
	default:
		x.fail(exitGeneric, "error: %v", err)
	}
	return true
}

// startHint says how to start a daemon when none answers on the socket.
func (x *ctl) startHint(ce *client.ConnError) {
	if x.hint != "" && (ce.NoSuchFile() || ce.Refused()) {
		x.errorf("%s", x.hint)
	}
}

// apiError returns err as an API fault, or nil if it is not one.
func apiError(err error) *control.APIError {
	var ae *control.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// faultExit sets the exit status from a per-process fault as supervisorctl's
// set_exitstatus_from_xmlrpc_fault: ignored and SUCCESS leave it, the
// dead-program faults give 7, anything else 1.
func (x *ctl) faultExit(code int, ignored supervisor.Fault) {
	f := supervisor.Fault(code)
	switch f {
	case ignored, supervisor.FaultSuccess:
	case supervisor.FaultSpawnError, supervisor.FaultAbnormalTermination, supervisor.FaultNotRunning:
		x.rc = exitNotRunning
	default:
		x.rc = exitGeneric
	}
}
