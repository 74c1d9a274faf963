package control

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Connection limits of a door. A door used to keep every connection a
// client opened for as long as the client liked: 500 idle keep-alive
// connections were held open indefinitely.
const (
	// DefaultMaxConns caps the connections one door holds at once. Each
	// costs a goroutine and a few KB; 256 is far above what supervisorctl,
	// the tend CLI, a few web pages and a metrics scraper need.
	DefaultMaxConns = 256
	// DefaultIdleTimeout is how long an idle keep-alive connection is
	// kept (http.Server.IdleTimeout). It never cuts a response in
	// progress: a followed tail or the page's event stream is a request
	// being answered, not an idle connection.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultReadHeaderTimeout bounds the wait for a request's headers,
	// so a connection opened and left silent is reclaimed too.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultEvictAfter is how long a connection must have been idle (or
	// silent since it was opened) before a new client may take its place
	// when the door is full. A real client sends its request at once.
	DefaultEvictAfter = time.Second
)

// refuseTimeout bounds the time spent telling a client the door is full,
// and refusers bounds how many are told at once (past that, a connection
// is closed unanswered): a flood of connections costs at most that many
// goroutines for that long.
const (
	refuseTimeout = 500 * time.Millisecond
	refusers      = 64
)

// NewHTTPServer returns the http.Server for a door served on l: a request's
// headers must arrive within DefaultReadHeaderTimeout, an idle keep-alive
// connection is closed after DefaultIdleTimeout, and l is told connection
// states so that it can evict idle connections. There is deliberately no
// read or write timeout: a followed tail may last for days.
func NewHTTPServer(h http.Handler, l *LimitedListener) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout: DefaultIdleTimeout, ConnState: l.ConnState}
}

// LimitedListener caps the number of open connections accepted from a
// listener. When the door is full, a new connection takes the place of the
// connection that has been idle longest (between requests, or opened and
// silent), provided it has been so for EvictAfter; if every connection is
// busy, the new one is answered "503 Service Unavailable" and closed at
// once. Refusing rather than waiting means a client never hangs on a door
// held full by long-lived streams, and gets an error that says why.
//
// Idle connections are only known when the http.Server reports connection
// states: set its ConnState to the listener's ConnState. Without that the
// cap still holds, but nothing is evicted.
type LimitedListener struct {
	net.Listener
	max int
	// EvictAfter is how long a connection must have been idle before it
	// may be closed to admit a new one; set it before serving.
	EvictAfter time.Duration

	mu      sync.Mutex
	conns   map[*limitedConn]struct{}
	stats   ConnStats
	refusal chan struct{} // bounds the goroutines answering 503
}

// ConnStats counts what a LimitedListener did.
type ConnStats struct {
	Open     int   // connections open now
	Peak     int   // most connections open at once
	Accepted int64 // connections admitted
	Evicted  int64 // idle connections closed to admit a new one
	Refused  int64 // connections refused because the door was full
}

// LimitListener wraps ln so that at most max connections are open at once
// (max <= 0 means DefaultMaxConns).
func LimitListener(ln net.Listener, n int) *LimitedListener {
	if n <= 0 {
		n = DefaultMaxConns
	}
	return &LimitedListener{Listener: ln, max: n, EvictAfter: DefaultEvictAfter,
		conns: make(map[*limitedConn]struct{}), refusal: make(chan struct{}, refusers)}
}

// Accept returns the next connection the cap admits; connections it
// refuses are answered and closed without being returned.
func (l *LimitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, victim := l.admit(c)
		if victim != nil {
			victim.Conn.Close() // its server goroutine sees the error and ends
		}
		if lc != nil {
			return lc, nil
		}
		l.refuse(c)
	}
}

// admit registers c if there is room, making room by evicting the
// longest-idle connection when needed. It returns nil when the door is
// full of busy connections.
func (l *LimitedListener) admit(c net.Conn) (admitted, victim *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.conns) >= l.max {
		victim = l.idlest(now)
		if victim == nil {
			l.stats.Refused++
			return nil, nil
		}
		delete(l.conns, victim)
		l.stats.Evicted++
	}
	// A connection counts as busy until the server says otherwise, so an
	// http.Server without ConnState never has a connection evicted.
	lc := &limitedConn{Conn: c, l: l, state: http.StateActive, since: now}
	l.conns[lc] = struct{}{}
	l.stats.Accepted++
	l.stats.Peak = max(l.stats.Peak, len(l.conns))
	return lc, victim
}

// idlest returns the connection idle longest, if it has been idle for
// EvictAfter. Called with l.mu held; a linear scan is fine for a few
// hundred connections and only runs when the door is full.
func (l *LimitedListener) idlest(now time.Time) *limitedConn {
	var best *limitedConn
	for c := range l.conns {
		if c.state != http.StateIdle && c.state != http.StateNew {
			continue
		}
		if best == nil || c.since.Before(best.since) {
			best = c
		}
	}
	if best == nil || now.Sub(best.since) < l.EvictAfter {
		return nil
	}
	return best
}

// refuse tells c the door is full and closes it. The answer is written and
// the request drained in a goroutine with a deadline, so a slow client
// holds nothing; past a few such goroutines c is simply closed.
func (l *LimitedListener) refuse(c net.Conn) {
	select {
	case l.refusal <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusal }()
		defer c.Close()
		c.SetDeadline(time.Now().Add(refuseTimeout))
		msg := "tend: too many connections to this door (limit " + strconv.Itoa(l.max) + "); try again\n"
		io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Retry-After: 1\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(msg))+"\r\n\r\n"+msg)
		// Closing with the request unread would reset the connection and
		// could destroy the answer before the client reads it: half-close,
		// then drain until the client closes or the deadline passes.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// ConnState records what the server does with each connection; set it as
// the http.Server's ConnState so idle connections can be evicted.
func (l *LimitedListener) ConnState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	lc.state, lc.since = st, time.Now()
	l.mu.Unlock()
}

// Stats returns the listener's counters.
func (l *LimitedListener) Stats() ConnStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Open = len(l.conns)
	return s
}

// limitedConn is an admitted connection; closing it frees its place.
type limitedConn struct {
	net.Conn
	l *LimitedListener
	// state and since are guarded by l.mu.
	state http.ConnState
	since time.Time
}

// Close frees the connection's place (once) and closes it.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
