package testkit

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ShortTempDir is t.TempDir under a short name: a unix socket path must
// fit in 108 bytes, which a long test name under $TMPDIR can overflow.
func ShortTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "tend")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ServeUnix serves h on a new unix socket until the end of the test and
// returns the socket's path. (It takes any handler, so that the control
// server's own tests can use it without an import cycle.)
func ServeUnix(tb testing.TB, h http.Handler) string {
	tb.Helper()
	sock := filepath.Join(ShortTempDir(tb), "tend.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return sock
}

// ServeSockets is the accept loop of the test servers that tend hands
// listening sockets (fd 0 of fcgi_program, LISTEN_FDS): it answers every
// connection on files[i] with reply(i) and closes it. On term it stops
// accepting and returns once the connections it accepted are answered,
// so the ones still queued wait for the next instance.
func ServeSockets(files []*os.File, term <-chan os.Signal, reply func(i int) string) error {
	var lns []net.Listener
	var wg sync.WaitGroup
	for i, f := range files {
		ln, err := net.FileListener(f)
		if err != nil {
			return fmt.Errorf("listener %s: %w", f.Name(), err)
		}
		lns = append(lns, ln)
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, reply(i))
				c.Close()
			}
		})
	}
	<-term
	for _, ln := range lns {
		ln.Close()
	}
	wg.Wait()
	return nil
}
