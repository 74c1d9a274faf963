package daemon

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// A paused listener accepts nothing: a client's connection waits in the
// backlog and is accepted after resume.
func TestPausableListenerHoldsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &pausableListener{Listener: ln, name: "test"}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	time.Sleep(20 * time.Millisecond) // most likely blocked in Accept by now: pause must interrupt it
	l.pause()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial a paused listener: %v (the backlog should take it)", err)
	}
	defer c.Close()
	select {
	case a := <-accepted:
		a.Close()
		t.Fatal("a paused listener accepted a connection")
	case <-time.After(200 * time.Millisecond):
	}
	l.resume()
	select {
	case a := <-accepted:
		a.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not accepted after resume")
	}
}

// The gate lets the requests in progress finish, refuses new ones while
// closed, and gives up (opening again) when they take too long.
func TestGate(t *testing.T) {
	d := &Daemon{}
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	h := d.Door(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	go http.Get(srv.URL + "/any")
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	n, err := d.gate.close(ctx, 0)
	cancel()
	if err == nil || n != 1 {
		t.Fatalf("close with a request stuck: %d, %v; want 1 still running", n, err)
	}
	done := make(chan error, 1)
	go func() { _, err := d.gate.close(context.Background(), 0); done <- err }()
	testkit.WaitFor(t, "the gate closed", 5*time.Second, func() bool {
		d.gate.mu.Lock()
		defer d.gate.mu.Unlock()
		return d.gate.closed
	})
	resp, err := http.Get(srv.URL + "/any")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a request while closing: %s, want 503", resp.Status)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("close after the request finished: %v", err)
	}
	d.gate.open()
}
