package repl

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// fg attaches to a running process as supervisorctl's fg: its stdout and
// stderr are followed to the output while each input line goes to its
// stdin, until Ctrl-C or the end of input, or the process is found dead
// after a line.
func (x *ctl) fg(ctx context.Context, args []string) {
	switch {
	case len(args) == 0:
		x.fail(exitGeneric, "ERROR: no process name supplied")
		x.println(lookup("fg").helpText())
		return
	case len(args) > 1:
		x.fail(exitGeneric, "ERROR: too many process names supplied")
		return
	}
	name := args[0]
	running, ok := x.fgRunning(ctx, name)
	if !ok {
		return
	}
	if !running {
		x.fail(exitGeneric, "ERROR: process not running")
		return
	}
	x.println("==> Press Ctrl-C to exit <==")

	// The followers and this goroutine share the output.
	out := &lockedWriter{w: x.out}
	x.out = out
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for _, channel := range []string{"stdout", "stderr"} {
		stream, err := x.c.FollowTail(fctx, name, channel)
		if err != nil {
			continue // a channel without a log (stderr redirected) shows nothing, as in supervisorctl
		}
		wg.Go(func() {
			defer stream.Close()
			io.Copy(out, stream)
		})
	}
	for {
		line, err := x.readLine(ctx)
		if err != nil { // Ctrl-C or the end of input
			x.println("Exiting foreground")
			return
		}
		err = x.c.SendStdin(ctx, name, line+"\n")
		var running, ok bool
		if err == nil {
			running, ok = x.fgRunning(ctx, name)
		}
		switch {
		case ctx.Err() != nil: // Ctrl-C while sending
		case err != nil:
			if ae := apiError(err); ae != nil && ae.Fault() == supervisor.FaultNotRunning {
				x.println("Process got killed")
			} else {
				x.println("ERROR: " + fgErrorText(err))
			}
		case !ok || !running:
			x.println("Process got killed")
		default:
			continue
		}
		x.println("Exiting foreground")
		return
	}
}

// fgRunning looks name up as supervisorctl's getProcessInfo: ok is false
// (and the reason printed) when it is not one process.
func (x *ctl) fgRunning(ctx context.Context, name string) (running, ok bool) {
	infos, err := x.c.Status(ctx, name)
	if ctx.Err() != nil {
		return false, false // Ctrl-C: nothing to report
	}
	var unknown *client.UnknownNamesError
	if errors.As(err, &unknown) || err == nil && (len(infos) != 1 || !supervisor.ParseTarget(name).IsProcess()) {
		x.fail(exitGeneric, "ERROR: bad process name supplied")
		return false, false
	}
	if x.transport(err) {
		return false, false
	}
	return supervisor.State(infos[0].State) == supervisor.Running, true
}

// fgErrorText is the text of an error sending to stdin.
func fgErrorText(err error) string {
	var ae *control.APIError
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

// readLine reads a line of fg's input; Ctrl-C (ctx) ends the wait even
// when the reader cannot be interrupted.
func (x *ctl) readLine(ctx context.Context) (string, error) {
	if x.in == nil {
		return "", io.EOF
	}
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := x.in.ReadLine("")
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
