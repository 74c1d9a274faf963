package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// TestSystemdNotify: under a NOTIFY_SOCKET tend says READY=1 with a status
// once its programs started, pings the watchdog, brackets a reload with
// RELOADING=1/READY=1 and says STOPPING=1 on shutdown; its programs do not
// inherit systemd's variables.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(testkit.ShortTempDir(t), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	var envFile string
	td := startDaemon(t, func(td *testDaemon) string {
		envFile = td.dir + "/env"
		return td.header("") + `program "a" { command = { "sh", "-c", "env > ` + envFile + `; exec sleep 1000" }, startsecs = 0 }`
	})
	next := func(want string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return m
				}
			case <-deadline:
				t.Fatalf("no sd_notify message with %q", want)
			}
		}
	}
	if m := next("READY=1"); !strings.Contains(m, "STATUS=1 running") {
		t.Errorf("first READY=1 message %q lacks STATUS=1 running", m)
	}
	next("WATCHDOG=1")
	td.running("a")
	waitFor(t, "the env file", 10*time.Second, func() bool {
		b, err := os.ReadFile(envFile)
		return err == nil && strings.Contains(string(b), "SUPERVISOR_ENABLED")
	})
	if b, _ := os.ReadFile(envFile); strings.Contains(string(b), "NOTIFY_SOCKET") || strings.Contains(string(b), "WATCHDOG_USEC") {
		t.Errorf("a program inherited systemd's variables:\n%s", b)
	}
	if err := td.Reload(); err != nil {
		t.Fatal(err)
	}
	if m := next("RELOADING=1"); !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 message %q lacks MONOTONIC_USEC", m)
	}
	next("READY=1")
	td.Shutdown()
	next("STOPPING=1")
}

// TestStatusSummary: states counted, busiest states first.
func TestStatusSummary(t *testing.T) {
	infos := []supervisor.Info{{State: supervisor.Running}, {State: supervisor.Backoff}, {State: supervisor.Running}}
	if got := statusSummary(infos); got != "2 running, 1 backoff" {
		t.Errorf("statusSummary = %q", got)
	}
	if got := statusSummary(nil); got != "no processes" {
		t.Errorf("statusSummary(nil) = %q", got)
	}
}
