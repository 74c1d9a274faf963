package repl

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
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
	if follow {
		stream, err := x.c.FollowTail(ctx, name, channel)
		x.follow(ctx, stream, err, "/logtail/"+name+"/"+channel)
		return
	}
	data, err := x.c.Tail(ctx, name, channel, n)
	if ae := apiError(err); ae != nil {
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
		return
	}
	if x.transport(err) {
		return
	}
	x.println(string(data))
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
			x.follow(ctx, stream, err, "/mainlogtail")
			return
		}
	}
	data, err := x.c.MainTail(ctx, n)
	if ae := apiError(err); ae != nil {
		x.rc = exitGeneric
		switch ae.Fault() {
		case supervisor.FaultNoFile:
			x.println("supervisord: ERROR (no log file)")
		case supervisor.FaultFailed:
			x.println("supervisord: ERROR (unknown error reading log)")
		default:
			x.println("error: " + ae.Message)
		}
		return
	}
	if x.transport(err) {
		return
	}
	x.println(string(data))
}

// follow copies a followed log stream (or the error opening it) to
// stdout until ctx ends (Ctrl-C) or the daemon ends the stream. As
// supervisorctl, an unknown process is reported on stderr with status 0;
// shown is the supervisord path named in that text.
func (x *ctl) follow(ctx context.Context, stream io.ReadCloser, err error, shown string) {
	x.println("==> Press Ctrl-C to exit <==")
	if ae := apiError(err); ae != nil {
		x.errorf("%s%s Cannot read, status code 404", x.c.URL(), shown)
		return
	}
	if errors.Is(err, context.Canceled) {
		x.println()
		return
	}
	if x.transport(err) {
		return
	}
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
