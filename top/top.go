// Package top is `tend top`: a live table of the supervised processes with
// what each costs (CPU %, memory), its state, uptime, restarts and last
// exit, refreshed every few seconds, sorted by CPU, memory or name,
// filtered by name, with keys that stop, start and restart the selected
// process.
//
// On a terminal it draws full screen with ANSI escape sequences, in raw
// mode on the alternate screen, and puts the terminal back as it found it
// when it ends. When its output is not a terminal it prints snapshots
// instead (Batch). It knows the daemon only through Daemon, which the
// command line implements with the typed client, so it works over the
// unix socket and over HTTP alike; the daemon samples /proc for each
// request, so nothing is sampled once top ends.
package top

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/supervisor/control"
)

// DefaultInterval is the time between refreshes when Options gives none.
const DefaultInterval = 2 * time.Second

// fetchTimeout is how long a refresh waits for the daemon.
const fetchTimeout = 10 * time.Second

// Daemon is what top needs of the daemon.
type Daemon interface {
	// Usage returns the processes to show, with their figures sampled
	// now.
	Usage(ctx context.Context) ([]control.ProcessUsage, error)
	// Act runs the ctl command verb ("start", "stop" or "restart") on the
	// process name and returns what it printed, for the status line.
	Act(ctx context.Context, verb, name string) string
}

// Options configures a run of top.
type Options struct {
	Interval time.Duration // between refreshes; DefaultInterval when 0
	Address  string        // the daemon's URL, shown in the title
	Sort     SortKey
	Reverse  bool
	// Iterations is how many snapshots Batch prints (1 when 0).
	Iterations int
}

// Batch prints snapshots of the table to w, as `top -b` does: the title,
// the totals and every row, unstyled and uncut, Iterations of them an
// Interval apart, separated by a blank line. It returns the first error
// of Usage, and nil when ctx ends between snapshots.
func Batch(ctx context.Context, d Daemon, w io.Writer, o Options) error {
	o = o.withDefaults()
	v := &view{sort: o.Sort, reverse: o.Reverse}
	for i := range o.Iterations {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(o.Interval):
			}
		}
		procs, err := d.Usage(ctx)
		if err != nil {
			return err
		}
		v.procs, v.fetched = procs, time.Now()
		lines := v.frame(frameOpts{now: v.fetched, address: o.Address, interval: o.Interval})
		text := strings.Join(lines, "\n") + "\n"
		if i > 0 {
			text = "\n" + text
		}
		if _, err := io.WriteString(w, text); err != nil {
			return fmt.Errorf("top: %w", err)
		}
	}
	return nil
}

// Interactive runs the live view on the terminal of in and out until q,
// Ctrl-C, SIGTERM or SIGHUP, or until ctx ends, then restores the
// terminal. The first fetch happens before the terminal is touched: a
// daemon that does not answer is an error returned as it is, with the
// terminal left alone. Later errors show on the status line and top keeps
// trying.
func Interactive(ctx context.Context, d Daemon, in, out *os.File, o Options) error {
	return interactive(ctx, d, in, out, o, fetchTimeout)
}

// interactive is Interactive with the time a refresh waits for the
// daemon.
func interactive(ctx context.Context, d Daemon, in, out *os.File, o Options, timeout time.Duration) (err error) {
	o = o.withDefaults()
	procs, err := d.Usage(ctx)
	if err != nil {
		return err
	}
	t, err := openTerminal(in, out)
	if err != nil {
		return fmt.Errorf("top: %w", err)
	}
	defer func() {
		if rerr := t.restore(); err == nil {
			err = rerr
		}
	}()
	s := &session{d: d, o: o, t: t, timeout: timeout,
		v: &view{sort: o.Sort, reverse: o.Reverse, procs: procs, fetched: time.Now()}}
	return s.loop(ctx)
}

// withDefaults fills in what o leaves zero.
func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	o.Iterations = max(o.Iterations, 1)
	return o
}

// session is one interactive run.
type session struct {
	d       Daemon
	o       Options
	t       *terminal
	v       *view
	timeout time.Duration // how long a refresh waits for the daemon

	prev []string // the lines on screen, nil after a clear
	w, h int      // the size they were drawn for
}

// fetchResult is the answer of one Usage call.
type fetchResult struct {
	procs []control.ProcessUsage
	err   error
	at    time.Time
}

// loop is the event loop: keys, resizes, the refresh tick, and the
// answers of the fetch and the action running on their own goroutines
// (so that a slow daemon never freezes the keys).
func (s *session) loop(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: the goroutines end with ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	kr, err := s.t.readKeys()
	if err != nil {
		return err
	}
	defer kr.stop()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(quit)
	tick := time.NewTicker(s.o.Interval)
	defer tick.Stop()

	// At most one fetch and one action are in flight, so their
	// buffered channels never block the goroutines.
	fetched := make(chan fetchResult, 1)
	// again is a fetch asked for while one was in flight, which may have
	// left before what it must show (an action's result) happened.
	fetching, again := false, false
	fetch := func() {
		if fetching {
			again = true
			return
		}
		fetching = true
		wg.Go(func() {
			// A daemon that stops answering must not leave the table
			// waiting for ever: the fetch gives up and the next tick
			// tries again.
			fctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			procs, err := s.d.Usage(fctx)
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("no answer from the daemon within %s", s.timeout)
			}
			fetched <- fetchResult{procs: procs, err: err, at: time.Now()}
		})
	}
	acted := make(chan string, 1)

	if err := s.draw(true); err != nil {
		return err
	}
	for {
		full := false
		select {
		case <-ctx.Done():
			return nil
		case <-quit:
			return nil
		case <-winch:
			full = true
		case ks := <-kr.keys:
			for _, k := range ks {
				out := s.v.handle(k, time.Now())
				switch {
				case out.quit:
					return nil
				case out.redraw:
					full = true
				case out.refresh:
					fetch()
				case out.act != "":
					wg.Go(func() { acted <- s.d.Act(ctx, string(out.act), out.target) })
				}
			}
		case <-tick.C:
			fetch()
		case r := <-fetched:
			fetching = false
			s.update(r)
			if again {
				again = false
				fetch()
			}
		case msg := <-acted:
			s.v.busy = ""
			s.v.setMsg(msg, time.Now())
			fetch() // show what the action did
		}
		if err := s.draw(full); err != nil {
			return err
		}
	}
}

// update takes in the answer of a fetch; an error keeps the last table
// and says what went wrong.
func (s *session) update(r fetchResult) {
	if r.err != nil {
		s.v.setMsg("error: "+r.err.Error(), r.at)
		return
	}
	s.v.procs, s.v.fetched = r.procs, r.at
	if strings.HasPrefix(s.v.msg, "error: ") {
		s.v.msg = "" // the daemon answers again
	}
}

// draw renders the view and writes the lines that changed since the last
// frame, in one write. A resize, or full, clears the screen first.
func (s *session) draw(full bool) error {
	w, h := s.t.size()
	lines := s.v.frame(frameOpts{width: w, height: h, tty: true, now: time.Now(), address: s.o.Address, interval: s.o.Interval})
	var b bytes.Buffer
	if full || w != s.w || h != s.h {
		b.WriteString("\x1b[2J")
		s.prev = nil
	}
	for i, l := range lines {
		if i < len(s.prev) && s.prev[i] == l {
			continue
		}
		// Clear the line before writing it: erasing after text that
		// reaches the last column would erase its last character.
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[2K%s", i+1, l)
	}
	if len(lines) < len(s.prev) {
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[J", len(lines)+1)
	}
	s.prev, s.w, s.h = lines, w, h
	if b.Len() == 0 {
		return nil
	}
	return s.t.write(b.Bytes())
}
