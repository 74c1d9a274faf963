package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// Listeners are the daemon's doors, listening: serve the control plane on
// them (cmd/tend does). They are the daemon's own so that a re-exec can
// pause them and hand them to the new binary.
type Listeners struct {
	Control net.Listener // the unix socket
	HTTP    net.Listener // daemon{ http }; nil when not configured
	Health  net.Listener // daemon{ health }; nil when not configured
}

// Door names, as the handoff records them.
const (
	doorControl = "control"
	doorHTTP    = "http"
	doorHealth  = "health"
)

// Listen opens the doors daemon{} configures: the control socket (refusing
// one a live process answers on), and the HTTP and health ports when set.
// A resumed daemon (Options.Resume) takes the listening sockets of the
// binary that exec'd it instead: connections made during the re-exec wait
// in their backlog and are served now.
func (d *Daemon) Listen() (Listeners, error) {
	if d.resume != nil {
		return d.inheritDoors()
	}
	dc := d.running
	ln, err := control.ListenUnix(dc.Socket.Path, dc.Socket.Mode, dc.Socket.Owner)
	if err != nil {
		return Listeners{}, err
	}
	out := Listeners{Control: d.door(doorControl, ln)}
	if dc.HTTP != nil {
		tcp, err := net.Listen("tcp", dc.HTTP.Listen)
		if err != nil {
			out.close()
			return Listeners{}, fmt.Errorf("listen on %s: %w", dc.HTTP.Listen, err)
		}
		out.HTTP = d.door(doorHTTP, tcp)
	}
	if dc.Health != nil {
		h, err := net.Listen("tcp", dc.Health.Listen)
		if err != nil {
			out.close()
			return Listeners{}, fmt.Errorf("health: listen on %s: %w", dc.Health.Listen, err)
		}
		out.Health = d.door(doorHealth, h)
	}
	return out, nil
}

// close closes every listener opened.
func (l Listeners) close() {
	for _, ln := range []net.Listener{l.Control, l.HTTP, l.Health} {
		if ln != nil {
			ln.Close()
		}
	}
}

// inheritDoors rebuilds the listeners a re-exec handed over. The inherited
// descriptors stay open (the listeners use duplicates) until the resume is
// committed, so that a fallback to the previous binary still has them.
func (d *Daemon) inheritDoors() (Listeners, error) {
	var out Listeners
	for _, fd := range d.resume.state.Doors {
		f := os.NewFile(uintptr(fd.FD), fd.Name)
		ln, err := net.FileListener(f)
		if err != nil {
			out.close()
			return Listeners{}, fmt.Errorf("resume: listener %s (fd %d): %w", fd.Name, fd.FD, err)
		}
		d.resume.files = append(d.resume.files, f)
		if ul, ok := ln.(*net.UnixListener); ok {
			// As ListenUnix's, shutdown removes the socket, but only once
			// the resume is committed: a fallback still serves on it.
			ul.SetUnlinkOnClose(false)
			d.resume.unlink = append(d.resume.unlink, ul)
		}
		switch fd.Name {
		case doorControl:
			out.Control = d.door(fd.Name, ln)
		case doorHTTP:
			out.HTTP = d.door(fd.Name, ln)
		case doorHealth:
			out.Health = d.door(fd.Name, ln)
		default:
			ln.Close()
		}
	}
	if out.Control == nil {
		out.close()
		return Listeners{}, errors.New("resume: no control socket was handed over")
	}
	return out, nil
}

// door wraps a listener so that a re-exec can stop it accepting.
func (d *Daemon) door(name string, ln net.Listener) net.Listener {
	l := &pausableListener{Listener: ln, name: name}
	d.doorsMu.Lock()
	d.doors = append(d.doors, l)
	d.doorsMu.Unlock()
	return l
}

// pausableListener is a listener whose Accept can be held: while paused,
// new connections wait in the kernel's backlog, and are accepted after a
// resume, or by the next binary after a re-exec.
type pausableListener struct {
	net.Listener
	name string

	mu     sync.Mutex
	paused bool
	wake   chan struct{} // closed by resume
}

// deadliner is a listener whose Accept can be interrupted by a deadline
// (*net.UnixListener, *net.TCPListener).
type deadliner interface{ SetDeadline(time.Time) error }

// Accept waits while the listener is paused, then accepts.
func (l *pausableListener) Accept() (net.Conn, error) {
	for {
		l.waitResumed()
		c, err := l.Listener.Accept()
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			continue // paused meanwhile (or just resumed): wait again
		}
		if err == nil {
			// A connection that arrived just as pause set its deadline
			// (the poller may report it ready first) waits here until
			// resume, as it would have in the backlog. Were the daemon to
			// exec meanwhile, that one connection is cut: the window is
			// the moment between the two.
			l.waitResumed()
		}
		return c, err
	}
}

// waitResumed waits while the listener is paused.
func (l *pausableListener) waitResumed() {
	l.mu.Lock()
	for l.paused {
		w := l.wake
		l.mu.Unlock()
		<-w
		l.mu.Lock()
	}
	l.mu.Unlock()
}

// pause stops accepting: an Accept in progress is interrupted by a
// deadline in the past and waits for resume.
func (l *pausableListener) pause() {
	l.mu.Lock()
	l.paused, l.wake = true, make(chan struct{})
	l.mu.Unlock()
	if dl, ok := l.Listener.(deadliner); ok {
		dl.SetDeadline(time.Now())
	}
}

// resume accepts again.
func (l *pausableListener) resume() {
	if dl, ok := l.Listener.(deadliner); ok {
		dl.SetDeadline(time.Time{})
	}
	l.mu.Lock()
	if l.paused {
		l.paused = false
		close(l.wake)
	}
	l.mu.Unlock()
}

// fd returns the listening socket's descriptor.
func (l *pausableListener) fd() (int, error) {
	sc, ok := l.Listener.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("listener %s has no descriptor", l.name)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// gate counts the control requests in progress and refuses new ones while
// a re-exec runs.
type gate struct {
	mu       sync.Mutex
	closed   bool
	inflight int
	changed  chan struct{} // closed (and replaced) when inflight drops
}

// enter admits a request, or refuses it while the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.inflight++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// close refuses new requests and waits until at most keep are in
// progress (the re-exec's own), or ctx ends: then it opens again and
// returns how many were still running.
func (g *gate) close(ctx context.Context, keep int) (int, error) {
	g.mu.Lock()
	g.closed = true
	for g.inflight > keep {
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			g.mu.Lock()
			n := g.inflight - keep
			g.closed = false
			g.mu.Unlock()
			return n, ctx.Err()
		}
		g.mu.Lock()
	}
	g.mu.Unlock()
	return 0, nil
}

func (g *gate) open() {
	g.mu.Lock()
	g.closed = false
	g.mu.Unlock()
}

// gateKey marks a request's context as counted by the gate.
type gateKey struct{}

// Door wraps the control plane's handler with the re-exec gate: requests
// are counted so that a re-exec can let them finish first, and refused
// ("re-exec in progress") while one runs. Streams that follow a log or
// the events (which may last for days) are not counted; a re-exec cuts
// them, and their clients see the end of the stream.
func (d *Daemon) Door(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streaming(r) {
			h.ServeHTTP(w, r)
			return
		}
		if !d.gate.enter() {
			refuseReexec(w)
			return
		}
		defer d.gate.leave()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), gateKey{}, true)))
	})
}

// streaming reports whether r asks for a stream that lasts until the
// client leaves.
func streaming(r *http.Request) bool {
	p := r.URL.Path
	return r.URL.Query().Get("follow") == "1" || strings.HasPrefix(p, "/logtail/") || p == "/mainlogtail" || p == "/ui/events"
}

// errReexecRunning is the refusal of a request that arrives during a
// re-exec, and of a second re-exec.
var errReexecRunning = errors.New("re-exec in progress; try again in a moment")

// refuseReexec answers a request that arrived during a re-exec.
func refuseReexec(w http.ResponseWriter) {
	b, _ := json.Marshal(control.ErrorReply{Error: &control.APIError{Code: int(supervisor.FaultFailed),
		Name: supervisor.FaultFailed.String(), Message: errReexecRunning.Error()}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(append(b, '\n'))
}
