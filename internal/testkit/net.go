package testkit

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
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
