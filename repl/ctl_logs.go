package repl

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// tail prints the end of a process log: tail [-f|-N] NAME [stdout|stderr].
func (x *ctl) tail(ctx context.Context, args []string) {
	modifier := ""
	if strings.HasPrefix(args[0], "-") {
		modifier, args = args[0], args[1:]
	}
	var name, channel string
	switch len(args) {
	case 0:
		x.fail(exitGeneric, "Error: tail requires process name")
		return
	case 1:
		name, channel = args[0], "stdout"
	default:
		name, channel = args[0], strings.ToLower(args[len(args)-1])
		if channel != "stdout" && channel != "stderr" {
			x.fail(exitGeneric, "Error: bad channel '%s'", channel)
			return
		}
	}
	n, follow, ok := x.tailModifier(modifier)
	if !ok {
		return
	}
	onFault := func(ae *control.APIError) { x.tailError(name, ae) }
	if follow {
		stream, err := x.c.FollowTail(ctx, name, channel)
		x.follow(ctx, stream, err, onFault)
		return
	}
	data, err := x.c.Tail(ctx, name, channel, n)
	if ae := apiError(err); ae != nil {
		onFault(ae)
		return
	}
	if x.transport(err) {
		return
	}
	x.println(string(data))
}

// tailError prints why a process log cannot be read, as supervisorctl's
// tail does.
func (x *ctl) tailError(name string, ae *control.APIError) {
	x.rc = exitGeneric
	switch ae.Fault() {
	case supervisor.FaultNoFile:
		x.println(name + ": ERROR (no log file)")
	case supervisor.FaultBadName:
		x.println(name + ": ERROR (no such process name)")
	case supervisor.FaultFailed:
		x.println(name + ": ERROR (unknown error reading log)")
	default:
		x.println("error: " + ae.Message)
	}
}

// tailModifier parses "-f" or "-N" (supervisorctl's default is 1600 bytes).
func (x *ctl) tailModifier(modifier string) (n int64, follow, ok bool) {
	if modifier == "" {
		return 1600, false, true
	}
	what := modifier[1:]
	if what == "f" {
		return 0, true, true
	}
	v, err := strconv.ParseInt(what, 10, 64)
	if err != nil || v < 0 {
		x.fail(exitGeneric, "Error: bad argument %s", modifier)
		return 0, false, false
	}
	return v, false, true
}

// maintail prints the end of the daemon's log: maintail [-f|-N].
func (x *ctl) maintail(ctx context.Context, args []string) {
	var n int64 = 1600
	if len(args) == 1 {
		if !strings.HasPrefix(args[0], "-") {
			x.fail(exitGeneric, "Error: bad argument %s", args[0])
			return
		}
		var follow, ok bool
		if n, follow, ok = x.tailModifier(args[0]); !ok {
			return
		}
		if follow {
			stream, err := x.c.FollowMainTail(ctx)
			x.follow(ctx, stream, err, x.mainTailError)
			return
		}
	}
	data, err := x.c.MainTail(ctx, n)
	if ae := apiError(err); ae != nil {
		x.mainTailError(ae)
		return
	}
	if x.transport(err) {
		return
	}
	x.println(string(data))
}

// mainTailError prints why the daemon's log cannot be read, as
// supervisorctl's maintail does.
func (x *ctl) mainTailError(ae *control.APIError) {
	x.rc = exitGeneric
	switch ae.Fault() {
	case supervisor.FaultNoFile:
		x.println("supervisord: ERROR (no log file)")
	case supervisor.FaultFailed:
		x.println("supervisord: ERROR (unknown error reading log)")
	default:
		x.println("error: " + ae.Message)
	}
}

// follow copies a followed log stream to stdout until ctx ends (Ctrl-C)
// or the daemon ends the stream. A stream that cannot be opened is
// reported by onFault as the same command without -f reports it
// (supervisorctl prints a URL and an HTTP status there instead).
func (x *ctl) follow(ctx context.Context, stream io.ReadCloser, err error, onFault func(*control.APIError)) {
	if ae := apiError(err); ae != nil {
		onFault(ae)
		return
	}
	if errors.Is(err, context.Canceled) {
		x.println("==> Press Ctrl-C to exit <==")
		x.println()
		return
	}
	if x.transport(err) {
		return
	}
	x.println("==> Press Ctrl-C to exit <==")
	defer stream.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := stream.Read(buf)
		if n > 0 {
			if _, werr := x.out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				x.println()
			}
			return
		}
	}
}
