package repl

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
)

// tail prints the end of a process log: tail [-f|-N] NAME [stdout|stderr].
func (x *ctl) tail(ctx context.Context, args []string) {
	const usage = "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr"
	switch {
	case len(args) < 1:
		x.fail(exitGeneric, "Error: too few arguments")
		x.println(usage)
		return
	case len(args) > 3:
		x.fail(exitGeneric, "Error: too many arguments")
		x.println(usage)
		return
	}
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
	q := url.Values{"name": {name}, "channel": {channel}}
	if follow {
		x.follow(ctx, "/v1/tail?"+q.Encode()+"&follow=1", "/logtail/"+name+"/"+channel)
		return
	}
	q.Set("bytes", strconv.FormatInt(n, 10))
	data, err := x.fetch(ctx, "/v1/tail?"+q.Encode())
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
	if len(args) > 1 {
		x.fail(exitGeneric, "Error: too many arguments")
		x.println("maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file")
		return
	}
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
			x.follow(ctx, "/v1/maintail?follow=1", "/mainlogtail")
			return
		}
	}
	data, err := x.fetch(ctx, "/v1/maintail?bytes="+strconv.FormatInt(n, 10))
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

// fetch GETs a text reply.
func (x *ctl) fetch(ctx context.Context, path string) ([]byte, error) {
	resp, err := x.c.request(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// follow streams a log to stdout until ctx ends (Ctrl-C) or the daemon
// ends the stream. As supervisorctl, an unknown process is reported on
// stderr with status 0; shown is the supervisord path named in that text.
func (x *ctl) follow(ctx context.Context, path, shown string) {
	x.println("==> Press Ctrl-C to exit <==")
	resp, err := x.c.request(ctx, "GET", path, nil)
	if ae := apiError(err); ae != nil {
		x.errorf("%s%s Cannot read, status code 404", x.c.url, shown)
		return
	}
	if errors.Is(err, context.Canceled) {
		x.println()
		return
	}
	if x.transport(err) {
		return
	}
	defer resp.Body.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
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
