package supervisor

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stdout_syslog sends each line of a child's output to syslog as
// "<process name> <line>", besides its log file; stderr only with its own
// option.
func TestOutputToSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := newHarness(t, Config{SyslogAddr: sock})
	s := h.spec("talker", sh(`echo one; echo two; echo oops >&2; exec sleep 1000`)...)
	s.StartSecs = 0
	s.Stdout.Path = h.file("talker.log")
	s.Stdout.Syslog = true
	s.Stderr.Path = h.file("talker.err")
	h.update(s)

	var got []string
	buf := make([]byte, 4096)
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < 2 {
		n, err := srv.Read(buf)
		if err != nil {
			t.Fatalf("syslog got %q, then: %v", got, err)
		}
		msg := string(buf[:n])
		_, line, ok := strings.Cut(msg, "]: ")
		if !strings.HasPrefix(msg, "<14>") || !ok {
			t.Fatalf("malformed syslog message %q", msg)
		}
		got = append(got, line)
	}
	if want := []string{"talker one", "talker two"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("syslog lines %q, want %q", got, want)
	}
	h.waitFile(h.file("talker.log"), "one\ntwo\n", 10*time.Second)
	h.waitFile(h.file("talker.err"), "oops\n", 10*time.Second)
	// stderr_syslog is off: nothing more arrives.
	srv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := srv.Read(buf); err == nil {
		t.Errorf("stderr reached syslog: %q", buf[:n])
	}
}
