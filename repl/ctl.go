package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// Commands are the ctl command names, for completion and for deciding
// whether a REPL line is a ctl command.
var Commands = control.CtlCommands()

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
	c      *Client
	out    io.Writer
	errOut io.Writer
	rc     int
}

func (x *ctl) println(a ...any)                { fmt.Fprintln(x.out, a...) }
func (x *ctl) printf(f string, a ...any)       { fmt.Fprintf(x.out, f, a...) }
func (x *ctl) errorf(f string, a ...any)       { fmt.Fprintf(x.errOut, f+"\n", a...) }
func (x *ctl) fail(rc int, f string, a ...any) { x.printf(f+"\n", a...); x.rc = rc }

// Run runs one ctl command, args like ["status"] or ["restart", "web:*"],
// printing exactly what supervisorctl prints, and returns its exit code.
func (c *Client) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return exitOK
	}
	x := &ctl{c: c, out: stdout, errOut: stderr}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "status":
		x.status(ctx, rest)
	case "start":
		x.start(ctx, rest)
	case "stop":
		x.stop(ctx, rest)
	case "restart":
		x.restart(ctx, rest)
	case "signal":
		x.signal(ctx, rest)
	case "pid":
		x.pid(ctx, rest)
	case "clear":
		x.clear(ctx, rest)
	case "avail":
		x.avail(ctx, rest)
	case "tail":
		x.tail(ctx, rest)
	case "maintail":
		x.maintail(ctx, rest)
	case "reread":
		x.reread(ctx, rest)
	case "update":
		x.update(ctx, rest)
	case "reload":
		x.reload(ctx, rest)
	case "shutdown":
		x.shutdown(ctx, rest)
	case "version":
		x.version(ctx, rest)
	case "scale":
		x.scale(ctx, rest)
	case "eval":
		x.eval(ctx, rest)
	case "help":
		x.help()
	default:
		x.fail(exitGeneric, "*** Unknown syntax: %s", strings.Join(args, " "))
	}
	return x.rc
}

// help lists the commands.
func (x *ctl) help() {
	x.println()
	x.println("default commands (type help <topic>):")
	x.println("=====================================")
	x.println(strings.Join(Commands, " "))
	x.println()
}

// transport reports an error that is not an answer from the daemon:
// unreachable server (upcheck's texts and codes), missing credentials, or
// anything else. It returns false when err is nil.
func (x *ctl) transport(err error) bool {
	if err == nil {
		return false
	}
	var ce *ConnError
	switch {
	case errors.As(err, &ce):
		rc := exitGeneric
		switch {
		case strings.HasSuffix(ce.Error(), " no such file"):
			rc = exitNotRunning
		case strings.HasSuffix(ce.Error(), " refused connection"):
			rc = exitNoAuth
		}
		x.fail(rc, "%s", ce.Error())
	case errors.Is(err, errUnauthorized):
		x.fail(exitGeneric, "Server requires authentication")
	case errors.Is(err, context.Canceled):
		x.rc = exitGeneric
	default:
		x.fail(exitGeneric, "error: %v", err)
	}
	return true
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

// normalizeAll reduces a name list containing "all" to just "all", as
// supervisorctl only calls the all-process method then.
func normalizeAll(names []string) []string {
	if slices.Contains(names, "all") {
		return []string{"all"}
	}
	return names
}
