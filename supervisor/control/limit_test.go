package control

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// doorEnv is a control server served as the daemon serves a door
// (NewHTTPServer on a LimitedListener), with its timeouts shortened.
type doorEnv struct {
	addr    string
	lim     *LimitedListener
	mainLog *logfile.File
}

func startDoor(t *testing.T, max int, idle, evict, header time.Duration) *doorEnv {
	t.Helper()
	dir := t.TempDir()
	eng := supervisor.New(supervisor.Config{ChildLogDir: dir})
	ml, err := logfile.Open(filepath.Join(dir, "tend.log"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := LimitListener(ln, max)
	lim.EvictAfter = evict
	hs := NewHTTPServer(New(Options{Engine: eng, MainLog: ml}), lim)
	hs.IdleTimeout, hs.ReadHeaderTimeout = idle, header
	go hs.Serve(lim)
	t.Cleanup(func() {
		hs.Close()
		eng.Shutdown(context.Background())
		ml.Close()
	})
	return &doorEnv{addr: ln.Addr().String(), lim: lim, mainLog: ml}
}

// waitIdle waits until want connections are idle as the server reports
// them: a client reads its response before the server marks the
// connection idle, so the next step must wait for that.
func (d *doorEnv) waitIdle(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.lim.mu.Lock()
		idle := 0
		for c := range d.lim.conns {
			if c.state == http.StateIdle {
				idle++
			}
		}
		d.lim.mu.Unlock()
		if idle == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections idle, want %d", idle, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawConn is one client connection, kept open between requests.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func (d *doorEnv) dial(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// send writes a keep-alive request and returns its response, body unread.
func (c *rawConn) send(t *testing.T, path string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: tend\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

// get makes a request and returns the status and body.
func (c *rawConn) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp := c.send(t, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp.StatusCode, string(data)
}

// waitClosed waits for the server to close the connection.
func (c *rawConn) waitClosed(t *testing.T, why string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open (read: %v)", why, err)
	}
}

// TestDoorIdleTimeoutFreesDoor: N+k keep-alive connections left idle. The
// cap holds N and refuses the rest with a 503 that says why; once the idle
// timeout has passed, the idle ones are closed and a new client is served.
// (Before the cap, all N+k were kept for as long as the clients liked.)
func TestDoorIdleTimeoutFreesDoor(t *testing.T) {
	const n, k = 4, 3
	// No eviction here; the idle timeout leaves ample time to fill the
	// door first even on a loaded machine.
	d := startDoor(t, n, 2*time.Second, time.Hour, 10*time.Second)
	var idle []*rawConn
	for i := 0; i < n+k; i++ {
		c := d.dial(t)
		code, body := c.get(t, "/v1/version")
		if i < n {
			if code != 200 {
				t.Fatalf("connection %d of %d: %d %q", i+1, n, code, body)
			}
			idle = append(idle, c)
			continue
		}
		if code != 503 || !strings.Contains(body, "too many connections") {
			t.Fatalf("connection %d past the cap: %d %q, want 503 saying why", i+1, code, body)
		}
	}
	if st := d.lim.Stats(); st.Peak != n || st.Refused != k {
		t.Fatalf("stats %+v, want peak %d, %d refused", st, n, k)
	}
	for i, c := range idle {
		c.waitClosed(t, "idle connection "+string(rune('1'+i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := d.dial(t).get(t, "/v1/version"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("door still full after the idle timeout: %+v", d.lim.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDoorEvictsIdle: when the door is full, a new client takes the place
// of the longest-idle connection at once; a followed log, busy, is passed
// by.
func TestDoorEvictsIdle(t *testing.T) {
	const n, k = 4, 3
	d := startDoor(t, n, time.Hour, 0, 10*time.Second)
	f := d.follow(t)
	var conns []*rawConn
	for i := 0; i < n-1+k; i++ {
		c := d.dial(t)
		if code, body := c.get(t, "/v1/version"); code != 200 {
			t.Fatalf("connection %d: %d %q", i+1, code, body)
		}
		conns = append(conns, c)
		if open := d.lim.Stats().Open; open > n {
			t.Fatalf("%d connections open, cap %d", open, n)
		}
		d.waitIdle(t, min(i+1, n-1))
	}
	for _, c := range conns[:k] {
		c.waitClosed(t, "the oldest idle connections")
	}
	for _, c := range conns[k:] {
		if code, _ := c.get(t, "/v1/version"); code != 200 {
			t.Fatalf("a recent connection was evicted: %d", code)
		}
	}
	if st := d.lim.Stats(); st.Evicted != k || st.Peak != n {
		t.Fatalf("stats %+v, want %d evicted, peak %d", st, k, n)
	}
	d.mainLog.Write([]byte("still here\n"))
	f.expect(t, "still here\n")
}

// TestDoorSilentConns: connections opened and left silent (never sending
// a request) neither keep a new client out nor stay open past the header
// timeout.
func TestDoorSilentConns(t *testing.T) {
	const n = 4
	d := startDoor(t, n, time.Hour, 50*time.Millisecond, 300*time.Millisecond)
	var silent []*rawConn
	for i := 0; i < n; i++ {
		silent = append(silent, d.dial(t))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := d.dial(t).get(t, "/v1/version"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("silent connections keep the door shut: %+v", d.lim.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range silent {
		c.waitClosed(t, "silent connection")
	}
}

// follower is a client following the main log.
type follower struct {
	c *rawConn
	r *bufio.Reader
}

func (d *doorEnv) follow(t *testing.T) follower {
	t.Helper()
	c := d.dial(t)
	resp := c.send(t, "/v1/maintail?follow=1")
	if resp.StatusCode != 200 {
		t.Fatalf("follow: %s", resp.Status)
	}
	return follower{c, bufio.NewReader(resp.Body)}
}

// expect reads the follower's stream up to line (a new follower first gets
// the log's last KB).
func (f follower) expect(t *testing.T, line string) {
	t.Helper()
	f.c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		got, err := f.r.ReadString('\n')
		if err != nil {
			t.Fatalf("follower: %v before %q", err, line)
		}
		if got == line {
			return
		}
	}
}

// TestDoorFollowSurvives: a followed log is a response in progress. The
// idle timeout does not cut it, and a door full of followers refuses a new
// client rather than cutting one.
func TestDoorFollowSurvives(t *testing.T) {
	const n = 3
	d := startDoor(t, n, 100*time.Millisecond, 0, 10*time.Second)
	f := d.follow(t)
	d.mainLog.Write([]byte("one\n"))
	f.expect(t, "one\n")

	// An idle connection opened after the follower is reclaimed: the idle
	// timeout has passed with the follower open.
	idle := d.dial(t)
	if code, _ := idle.get(t, "/v1/version"); code != 200 {
		t.Fatal(code)
	}
	idle.waitClosed(t, "idle connection")
	d.mainLog.Write([]byte("two\n"))
	f.expect(t, "two\n")

	fs := []follower{f}
	for len(fs) < n {
		fs = append(fs, d.follow(t))
	}
	code, body := d.dial(t).get(t, "/v1/version")
	if code != 503 || !strings.Contains(body, "too many connections") {
		t.Fatalf("door full of followers: %d %q, want 503", code, body)
	}
	d.mainLog.Write([]byte("three\n"))
	for _, f := range fs {
		f.expect(t, "three\n")
	}
}

// TestDoorCapOnUnixSocket: the cap works the same on the unix socket door.
func TestDoorCapOnUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "tendl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	lim := LimitListener(ln, 2)
	lim.EvictAfter = time.Hour
	eng := supervisor.New(supervisor.Config{ChildLogDir: dir})
	hs := NewHTTPServer(New(Options{Engine: eng}), lim)
	go hs.Serve(lim)
	t.Cleanup(func() { hs.Close(); eng.Shutdown(context.Background()) })
	d := &doorEnv{lim: lim}
	dial := func() *rawConn {
		c, err := net.Dial("unix", filepath.Join(dir, "s"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &rawConn{Conn: c, br: bufio.NewReader(c)}
	}
	for i, want := range []int{200, 200, 503} {
		if code, body := dial().get(t, "/v1/version"); code != want {
			t.Fatalf("connection %d: %d %q, want %d", i+1, code, body, want)
		}
	}
	if st := d.lim.Stats(); st.Open != 2 || st.Refused != 1 {
		t.Fatalf("stats %+v", st)
	}
}
