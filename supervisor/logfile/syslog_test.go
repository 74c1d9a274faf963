package logfile

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeSyslog listens where a syslog daemon would and returns what it gets.
func fakeSyslog(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readMsg(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("syslog read: %v", err)
	}
	return string(buf[:n])
}

func TestSyslogLinesAndReconnect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	srv := fakeSyslog(t, path)
	s := NewSyslog(path, "tend")
	defer s.Close()

	if err := s.WriteLines("web_0", []byte("first line\nsecond line\n")); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(fmt.Sprintf(`^<14>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d tend\[%d\]: web_0 (.*)$`, os.Getpid()))
	for _, want := range []string{"first line", "second line"} {
		got := readMsg(t, srv)
		if m := re.FindStringSubmatch(got); m == nil || m[1] != want {
			t.Errorf("message %q, want the header and %q", got, want)
		}
	}

	// The daemon restarts: the next write fails and drops, a later one
	// reconnects without waiting for the retry pause (it was connected).
	srv.Close()
	os.Remove(path)
	srv = fakeSyslog(t, path)
	_ = s.WriteLines("web_0", []byte("lost\n"))
	if err := s.WriteLines("web_0", []byte("after restart")); err != nil {
		t.Fatal(err)
	}
	if got := readMsg(t, srv); !strings.HasSuffix(got, ": web_0 after restart") {
		t.Errorf("after reconnect got %q", got)
	}
}

func TestSyslogUnavailable(t *testing.T) {
	s := NewSyslog(filepath.Join(t.TempDir(), "nothing-here"), "tend")
	if err := s.WriteLines("x", []byte("hello\n")); err == nil || !strings.Contains(err.Error(), "syslog: connect") {
		t.Fatalf("err = %v, want a connect error", err)
	}
	// Until the retry pause ends it does not dial again.
	if err := s.WriteLines("x", []byte("hello\n")); !errors.Is(err, ErrSyslogPaused) {
		t.Fatalf("err = %v, want ErrSyslogPaused", err)
	}
}
