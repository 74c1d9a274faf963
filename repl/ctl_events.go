package repl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// events prints the daemon's history of state changes, oldest first, one
// line each, limited to the processes names select (all when none).
// With -f it then follows the changes as they happen until Ctrl-C.
func (x *ctl) events(ctx context.Context, args []string) {
	follow, asJSON := false, false
	targets := make([]supervisor.Target, 0, len(args))
	for _, a := range args {
		switch a {
		case "-f":
			follow = true
		case "--json":
			asJSON = true
		case "all":
		default:
			targets = append(targets, supervisor.ParseTarget(a))
		}
	}
	format := formatEvent
	if asJSON {
		format = client.EventJSON
	}
	if follow {
		x.followEvents(ctx, targets, format)
		return
	}
	evs, err := x.c.Events(ctx)
	if !x.answered(err) {
		return
	}
	for _, ev := range evs {
		if selected(targets, ev) {
			x.println(format(ev))
		}
	}
}

// followEvents prints the state changes made from now on until ctx ends
// (Ctrl-C) or the daemon goes away.
func (x *ctl) followEvents(ctx context.Context, targets []supervisor.Target, format func(control.StateChange) string) {
	stream, err := x.c.FollowEvents(ctx)
	if errors.Is(err, context.Canceled) || err != nil && !x.answered(err) {
		return
	}
	defer stream.Close()
	for {
		ev, err := stream.Next()
		if err != nil {
			return
		}
		if selected(targets, ev) {
			x.println(format(ev))
		}
	}
}

// selected reports whether one of targets names the process of ev; no
// targets select everything.
func selected(targets []supervisor.Target, ev control.StateChange) bool {
	if len(targets) == 0 {
		return true
	}
	for _, t := range targets {
		if t.Group == ev.Group && (t.Process == "" || t.Process == ev.Name) {
			return true
		}
	}
	return false
}

// formatEvent writes "2026-12-03 17:02:03.123 web FROM -> TO pid 12 exit 1: reason".
func formatEvent(ev control.StateChange) string {
	sec := int64(ev.Time)
	at := time.Unix(sec, int64((ev.Time-float64(sec))*1e9)).Local().Format("2006-01-02 15:04:05.000")
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s -> %s", at, supervisor.Namespec(ev.Group, ev.Name), ev.From, ev.To)
	if ev.Pid != 0 {
		fmt.Fprintf(&b, " pid %d", ev.Pid)
	}
	switch {
	case ev.Signal != "":
		b.WriteString(" SIG" + ev.Signal)
	case ev.ExitCode != nil && *ev.ExitCode >= 0:
		fmt.Fprintf(&b, " exit %d", *ev.ExitCode)
	}
	// An exit's reason is "exit status 1" or "terminated by SIGTERM",
	// already said, unless tend killed it as unhealthy (a probe, the
	// watchdog).
	if ev.Reason != "" && (ev.To != "EXITED" || !strings.HasPrefix(ev.Reason, "exit status ") && !strings.HasPrefix(ev.Reason, "terminated by ")) {
		b.WriteString(": " + ev.Reason)
	}
	return b.String()
}
