package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// runNotifyRole sends $TEND_NOTIFY_MSG to $NOTIFY_SOCKET as sd_notify does,
// then sleeps unless TEND_NOTIFY_EXIT is set.
func runNotifyRole() {
	if err := sendNotify(os.Getenv("NOTIFY_SOCKET"), os.Getenv("TEND_NOTIFY_MSG")); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	if os.Getenv("TEND_NOTIFY_EXIT") != "" {
		os.Exit(0)
	}
	time.Sleep(time.Hour)
	os.Exit(0)
}

func sendNotify(socket, msg string) error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(msg))
	return err
}

// notifier returns the argv of a process that sends msg from its own pid
// and stays up.
func notifier(t *testing.T, msg string) ([]string, map[string]string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe}, map[string]string{testRoleEnv: "notify", "TEND_NOTIFY_MSG": msg}
}

func readySpec(h *harness, name string, r ReadySpec, argv ...string) Spec {
	s := h.spec(name, argv...)
	s.Ready = &r
	return s
}

// TestReadyNotifyMainPid: READY=1 from the main pid makes the process
// RUNNING; STATUS= text ends its description.
func TestReadyNotifyMainPid(t *testing.T) {
	h := newHarness(t)
	argv, env := notifier(t, "STATUS=Listening on :8080\nREADY=1\nX_OTHER=1")
	s := readySpec(h, "api", ReadySpec{Notify: true}, argv...)
	s.Environment = env
	h.update(s)
	info := h.waitState("api", Running, testkit.DefaultWait)
	if !info.Ready || !strings.HasSuffix(info.Description(), ", Listening on :8080") {
		t.Errorf("info %+v description %q, want ready with the STATUS text", info, info.Description())
	}
}

// TestReadyNotifyStaysStartingUntilReady: startsecs pass but the process
// stays STARTING until READY=1 arrives; the status text shows meanwhile.
func TestReadyNotifyStaysStartingUntilReady(t *testing.T) {
	h := newHarness(t)
	s := readySpec(h, "slow", ReadySpec{Notify: true}, "sleep", "1000")
	s.StartSecs = 50 * time.Millisecond
	h.update(s)
	info := h.waitState("slow", Starting, testkit.DefaultWait)
	sock := notifySocketOf(t, info.Pid)
	time.Sleep(200 * time.Millisecond) // startsecs have passed: still STARTING
	if i, _ := h.e.Info("slow"); i.State != Starting {
		t.Fatalf("state %s before READY=1, want STARTING", i.State)
	}
	// The test process is a foreign pid: rejected, counted, still STARTING.
	if err := sendNotify(sock, "READY=1"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the foreign message counted", testkit.DefaultWait, func() bool {
		i, _ := h.e.Info("slow")
		return i.NotifyRejected == 1
	})
	if i, _ := h.e.Info("slow"); i.State != Starting {
		t.Fatalf("state %s after a foreign READY=1, want STARTING", i.State)
	}
}

func notifySocketOf(t *testing.T, pid int) string {
	t.Helper()
	// Right after the fork the child's environ is still tend's: wait for
	// the exec.
	sock := ""
	testkit.WaitFor(t, "NOTIFY_SOCKET in the child's environment", testkit.DefaultWait, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
				sock = v
				return true
			}
		}
		return false
	})
	return sock
}

// TestReadyNotifyAccess: a child of the main pid is rejected under "main"
// and believed under "group"; with "all" even a foreign pid is.
func TestReadyNotifyAccess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The child runs in the background and stays a zombie of the main
	// process (sleep never reaps it), so its process group can be read
	// when its message arrives: a sender already reaped cannot be
	// attributed (systemd has the same limit; BARRIER=1 is its answer).
	child := fmt.Sprintf(`%s=notify TEND_NOTIFY_EXIT=1 TEND_NOTIFY_MSG=READY=1 %s & exec sleep 1000`, testRoleEnv, exe)
	for _, tc := range []struct {
		access    string
		fromChild bool
		ready     bool
	}{
		{"main", true, false},
		{"group", true, true},
		{"main", false, false},
		{"group", false, false},
		{"all", false, true},
	} {
		t.Run(fmt.Sprintf("%s/child=%v", tc.access, tc.fromChild), func(t *testing.T) {
			h := newHarness(t)
			argv := []string{"sleep", "1000"}
			if tc.fromChild {
				argv = sh(child)
			}
			s := readySpec(h, "p", ReadySpec{Notify: true, NotifyAccess: tc.access, Timeout: time.Minute}, argv...)
			s.StartSecs = 0
			h.update(s)
			info := h.waitState("p", Starting, testkit.DefaultWait)
			if !tc.fromChild {
				if err := sendNotify(notifySocketOf(t, info.Pid), "READY=1"); err != nil {
					t.Fatal(err)
				}
			}
			if tc.ready {
				h.waitState("p", Running, testkit.DefaultWait)
				return
			}
			h.waitFor("the message rejected", testkit.DefaultWait, func() bool {
				i, _ := h.e.Info("p")
				return i.NotifyRejected == 1
			})
			if i, _ := h.e.Info("p"); i.State != Starting {
				t.Errorf("state %s after a rejected READY=1, want STARTING", i.State)
			}
		})
	}
}

// TestReadyTimeoutIsAFailedStart: a process never ready is killed when the
// timeout passes (fake clock), goes BACKOFF with "not ready after 5s", and
// FATAL once startretries are spent.
func TestReadyTimeoutIsAFailedStart(t *testing.T) {
	h := newFakeHarness(t)
	s := readySpec(h, "never", ReadySpec{Notify: true, Timeout: 5 * time.Second}, "sleep", "1000")
	s.StartSecs, s.StartRetries = 0, 1
	h.update(s)
	for try := 1; try <= 2; try++ {
		info := h.waitState("never", Starting, testkit.DefaultWait)
		h.clock.Advance(5*time.Second - time.Nanosecond)
		time.Sleep(50 * time.Millisecond)
		if !alive(info.Pid) {
			t.Fatalf("try %d: killed before the timeout", try)
		}
		h.clock.Advance(time.Nanosecond)
		want := Backoff
		if try == 2 {
			want = Fatal
		}
		got := h.waitState("never", want, testkit.DefaultWait)
		if got.SpawnErr != "not ready after 5s" {
			t.Errorf("try %d: spawnerr %q, want %q", try, got.SpawnErr, "not ready after 5s")
		}
		if try == 1 {
			h.clock.Advance(time.Second) // the backoff delay
		}
	}
}

// TestReadyChecks: each polled kind and the fd and log protocols make a
// real process RUNNING.
func TestReadyChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		r     ReadySpec
		argv  []string
		ready bool
	}{
		{"fd", ReadySpec{FD: 3}, sh(`sleep 0.2; echo >&3; exec sleep 1000`), true},
		{"fd-5", ReadySpec{FD: 5}, sh(`printf 'abc\n' >&5; exec sleep 1000`), true},
		{"fd-no-newline", ReadySpec{FD: 3}, sh(`printf x >&3; exec sleep 1000`), false},
		{"log", ReadySpec{Log: "ready to accept"}, sh(`echo starting; sleep 0.1; echo "db ready to accept connections" >&2; exec sleep 1000`), true},
		{"log-absent", ReadySpec{Log: "ready to accept"}, sh(`echo ready; exec sleep 1000`), false},
		{"http", ReadySpec{HTTP: srv.URL + "/ok", Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, true},
		{"http-500", ReadySpec{HTTP: srv.URL + "/bad", Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, false},
		{"tcp", ReadySpec{TCP: ln.Addr().String(), Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, true},
		{"tcp-closed", ReadySpec{TCP: "127.0.0.1:1", Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, false},
		{"exec", ReadySpec{Exec: "test -e " + dir + "/flag", Period: 50 * time.Millisecond}, sh(`sleep 0.2; touch ` + dir + `/flag; exec sleep 1000`), true},
		{"exec-fails", ReadySpec{Exec: "exit 1", Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, false},
		{"check", ReadySpec{Check: checkFunc(func(p Info) bool { return p.Pid > 0 }), Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, true},
		{"check-false", ReadySpec{Check: checkFunc(func(Info) bool { return false }), Period: 50 * time.Millisecond}, []string{"sleep", "1000"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			r := tc.r
			r.Timeout = time.Minute
			s := readySpec(h, "p", r, tc.argv...)
			s.StartSecs = 0
			h.update(s)
			if tc.ready {
				h.waitState("p", Running, testkit.DefaultWait)
				return
			}
			h.waitState("p", Starting, testkit.DefaultWait)
			time.Sleep(500 * time.Millisecond)
			if i, _ := h.e.Info("p"); i.State != Starting {
				t.Errorf("state %s, want STARTING (never ready)", i.State)
			}
		})
	}
}

type checkFunc func(Info) bool

func (f checkFunc) Ready(_ context.Context, p Info) (bool, error) { return f(p), nil }

// TestReadyValidate: exactly one way, a sane fd and notify_access.
func TestReadyValidate(t *testing.T) {
	for _, tc := range []struct {
		r  ReadySpec
		ok bool
	}{
		{ReadySpec{Notify: true}, true},
		{ReadySpec{}, false},
		{ReadySpec{Notify: true, FD: 3}, false},
		{ReadySpec{FD: 2}, false},
		{ReadySpec{Notify: true, NotifyAccess: "exec"}, false},
	} {
		if err := tc.r.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.r, err, tc.ok)
		}
	}
}

// TestReadySystemdNotifyTool: systemd's own systemd-notify (libsystemd's
// sd_notify, abstract socket address) works unchanged; it runs as a child,
// so notify_access = "all".
func TestReadySystemdNotifyTool(t *testing.T) {
	tool := testkit.RequireTool(t, "systemd-notify")
	h := newHarness(t)
	s := readySpec(h, "sd", ReadySpec{Notify: true, NotifyAccess: "all"},
		sh(tool+` --status="warming up"; sleep 0.2; `+tool+` --ready --status="serving"; exec sleep 1000`)...)
	s.StartSecs = 0
	h.update(s)
	info := h.waitState("sd", Running, testkit.DefaultWait)
	if !strings.HasSuffix(info.Description(), ", serving") {
		t.Errorf("description %q, want it to end with the STATUS text", info.Description())
	}
}
