package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// TestProbeCounter: the threshold state machine. A success after failures
// clears them only after success_threshold successes in a row, so with
// success_threshold 2 one success between failures does not save the
// process.
func TestProbeCounter(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fail, succ   int
		results      string // F or S, one per try
		states       []string
		deadAt       int // index of the try that reaches the threshold; -1 none
		wantLastFail string
	}{
		{"ok", 3, 1, "SSS", []string{"ok", "ok", "ok"}, -1, ""},
		{"three in a row", 3, 1, "FFF", []string{"failing 1/3", "failing 2/3", "failing 3/3"}, 2, "F2"},
		{"one success resets", 3, 1, "FFSFF", []string{"failing 1/3", "failing 2/3", "ok", "failing 1/3", "failing 2/3"}, -1, "F4"},
		{"success threshold 2: one success is not enough", 3, 2, "FFSF", []string{"failing 1/3", "failing 2/3", "failing 2/3", "failing 3/3"}, 3, "F3"},
		{"success threshold 2: two successes reset", 3, 2, "FFSSFF", []string{"failing 1/3", "failing 2/3", "failing 2/3", "ok", "failing 1/3", "failing 2/3"}, -1, "F5"},
		{"threshold 1", 1, 1, "SF", []string{"ok", "failing 1/1"}, 1, "F1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := probeCounter{failureThreshold: tc.fail, successThreshold: tc.succ}
			if c.state() != "pending" {
				t.Errorf("state before any try %q, want pending", c.state())
			}
			dead := -1
			for i, r := range tc.results {
				if c.record(r == 'S', fmt.Sprintf("F%d", i)) && dead < 0 {
					dead = i
				}
				if got := c.state(); got != tc.states[i] {
					t.Errorf("after try %d (%c): state %q, want %q", i, r, got, tc.states[i])
				}
			}
			if dead != tc.deadAt {
				t.Errorf("threshold reached at try %d, want %d", dead, tc.deadAt)
			}
			if c.lastError != tc.wantLastFail {
				t.Errorf("last error %q, want %q", c.lastError, tc.wantLastFail)
			}
		})
	}
}

// scriptedCheck answers each try with the next value the test sends.
type scriptedCheck chan bool

func (c scriptedCheck) Ready(ctx context.Context, _ Info) (bool, error) {
	select {
	case ok := <-c:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// TestProbeThresholdsOnFakeClock drives a probe try by try on the
// engine's clock: the state shows in Info, success_threshold holds the
// failure count until enough successes, and the failure that reaches
// failure_threshold kills the process, whose exit is unexpected (even
// though SIGTERM ends sleep, which is no exit code at all): autorestart
// starts it again and the reason is in Info, the EXITED event and its
// payload, and the history.
func TestProbeThresholdsOnFakeClock(t *testing.T) {
	h := newFakeHarness(t)
	results := make(scriptedCheck)
	s := h.spec("web", "sleep", "1000")
	s.StartSecs = 0
	s.Probe = &ProbeSpec{Check: results, Period: 10 * time.Second, Timeout: time.Minute, FailureThreshold: 3, SuccessThreshold: 2}
	h.update(s)
	first := h.waitState("web", Running, testkit.DefaultWait)
	if first.Probe != "pending" {
		t.Errorf("probe %q before its first try, want pending", first.Probe)
	}
	try := func(i int, ok bool, want string) {
		t.Helper()
		if i > 0 {
			h.clock.WaitPending(t, 1) // the period between two tries
			h.clock.Advance(10 * time.Second)
		}
		results <- ok
		if want == "" {
			return
		}
		h.clock.WaitPending(t, 1) // the result is applied: the next wait is armed
		if info, _ := h.e.Info("web"); info.Probe != want || info.State != Running || info.Pid != first.Pid {
			t.Fatalf("try %d: probe %q state %s pid %d, want %q RUNNING pid %d", i, info.Probe, info.State, info.Pid, want, first.Pid)
		}
	}
	try(0, false, "failing 1/3")
	try(1, true, "failing 1/3")
	try(2, true, "ok")
	try(3, false, "failing 1/3")
	try(4, false, "failing 2/3")
	try(5, true, "failing 2/3")
	if info, _ := h.e.Info("web"); info.ProbeError != "check returned false" {
		t.Errorf("probe error %q, want the last failure", info.ProbeError)
	}
	try(6, false, "") // the third failure: stopsignal
	h.waitSeq("web", testkit.DefaultWait, Running, Exited, Starting, Running)
	const reason = "probe failed 3 times: check returned false"
	info, _ := h.e.Info("web")
	if info.Pid == first.Pid || info.Restarts != 1 || info.KillReason != reason {
		t.Errorf("after the kill: pid %d (was %d), restarts %d, kill reason %q; want a new pid, 1 restart, %q",
			info.Pid, first.Pid, info.Restarts, info.KillReason, reason)
	}
	if info.Probe != "pending" {
		t.Errorf("probe of the new run %q, want pending", info.Probe)
	}
	h.sync()
	i := slices.IndexFunc(h.stateEvents("web"), func(ev Event) bool { return ev.To == Exited })
	ev := h.stateEvents("web")[i]
	if ev.Expected || ev.Reason != reason || ev.Signal.String() != "terminated" {
		t.Errorf("EXITED event expected=%v reason %q signal %v, want unexpected, %q, SIGTERM", ev.Expected, ev.Reason, ev.Signal, reason)
	}
	wantPayload := fmt.Sprintf("processname:web groupname:web from_state:RUNNING expected:0 pid:%d reason:probe", first.Pid)
	if got := string(ev.Payload()); got != wantPayload {
		t.Errorf("payload %q, want %q", got, wantPayload)
	}
	hist := h.e.History()
	j := slices.IndexFunc(hist, func(c StateChange) bool { return c.To == Exited })
	if hist[j].Reason != reason || hist[j].Signal.String() != "terminated" {
		t.Errorf("history reason %q signal %v, want %q and SIGTERM", hist[j].Reason, hist[j].Signal, reason)
	}
}

// TestProbePayloadParses: the EXITED payload with tend's reason token still
// parses as supervisor.childutils.get_headers parses it: tokens split on
// spaces, each split on ':' into exactly a key and a value.
func TestProbePayloadParses(t *testing.T) {
	for _, c := range []cause{causeProbe, causeWatchdog} {
		ev := Event{Type: EventProcessState, Process: "a", Group: "a", From: Running, To: Exited, Pid: 7,
			Reason: "probe failed 3 times: GET http://127.0.0.1:1/: 503", Cause: c}
		headers := map[string]string{}
		for _, tok := range strings.Fields(string(ev.Payload())) {
			kv := strings.Split(tok, ":")
			if len(kv) != 2 {
				t.Fatalf("token %q of %q does not split into key:value", tok, ev.Payload())
			}
			headers[kv[0]] = kv[1]
		}
		if headers["reason"] != string(c) || headers["expected"] != "0" || headers["pid"] != "7" {
			t.Errorf("headers %v", headers)
		}
	}
}

// TestProbeKillsWithStopSignalThenSIGKILL: a process that ignores its
// stopsignal gets it first (it writes down that it did), then SIGKILL
// after stopwaitsecs; the exit is then handled by autorestart as usual.
func TestProbeKillsWithStopSignalThenSIGKILL(t *testing.T) {
	h := newHarness(t)
	mark := h.file("term")
	s := h.spec("stubborn", sh(`trap 'echo term >> `+mark+`' TERM; echo trapped > `+mark+`; while :; do sleep 0.05; done`)...)
	s.StartSecs, s.StopWait = 0, 300*time.Millisecond
	s.StopAsGroup, s.KillAsGroup = true, true
	s.AutoRestart = RestartNever
	// Fails once sh has set its trap.
	s.Probe = &ProbeSpec{Exec: "! test -e " + mark, Period: 50 * time.Millisecond, FailureThreshold: 2}
	h.update(s)
	h.waitSeq("stubborn", testkit.DefaultWait, Running, Exited)
	h.waitFile(mark, "term", testkit.DefaultWait)
	info, _ := h.e.Info("stubborn")
	if info.ExitSignal.String() != "killed" || info.State != Exited {
		t.Errorf("state %s, exit signal %v; want EXITED by SIGKILL", info.State, info.ExitSignal)
	}
	if !strings.HasPrefix(info.KillReason, `probe failed 2 times: exec "! test -e `+mark+`": exit status 1`) {
		t.Errorf("kill reason %q", info.KillReason)
	}
}

// TestProbeKindsRestart: each check kind, once it fails, restarts a real
// process within period x failure_threshold + stopwaitsecs, and the reason
// names what failed; the new run is probed again and passes once the
// check does.
func TestProbeKindsRestart(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	flag := dir + "/healthy"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := ln.Addr().String()
	t.Cleanup(func() { ln.Close() })
	for _, tc := range []struct {
		name         string
		probe        ProbeSpec
		setup        func()
		break_, heal func()
		reason       string
	}{
		{"http", ProbeSpec{HTTP: srv.URL + "/healthz"}, nil,
			func() { status.Store(503) }, func() { status.Store(200) },
			"probe failed 2 times: GET " + srv.URL + "/healthz: 503"},
		{"exec", ProbeSpec{Exec: "test -e " + flag},
			func() { os.WriteFile(flag, nil, 0o600) },
			func() { os.Remove(flag) }, func() { os.WriteFile(flag, nil, 0o600) },
			fmt.Sprintf(`probe failed 2 times: exec "test -e %s": exit status 1`, flag)},
		{"tcp", ProbeSpec{TCP: tcpAddr}, nil,
			func() { ln.Close() }, func() {
				if ln, err = net.Listen("tcp", tcpAddr); err != nil {
					t.Fatal(err)
				}
			},
			"probe failed 2 times: connect " + tcpAddr + ": dial tcp " + tcpAddr + ": connect: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			h := newHarness(t)
			s := h.spec("p", "sleep", "1000")
			s.StartSecs, s.StopWait = 0, 500*time.Millisecond
			r := tc.probe
			r.Period, r.FailureThreshold = 50*time.Millisecond, 2
			s.Probe = &r
			h.update(s)
			first := h.waitState("p", Running, testkit.DefaultWait)
			h.waitFor("the probe to pass", testkit.DefaultWait, func() bool {
				i, _ := h.e.Info("p")
				return i.Probe == "ok"
			})
			tc.break_()
			// period x failure_threshold + stopwaitsecs is 0.6 s: the
			// deadline only bounds a hung test.
			h.waitSeq("p", testkit.DefaultWait, Running, Exited, Starting, Running)
			info, _ := h.e.Info("p")
			if info.KillReason != tc.reason || info.Pid == first.Pid {
				t.Errorf("kill reason %q pid %d (was %d), want %q and a new pid", info.KillReason, info.Pid, first.Pid, tc.reason)
			}
			tc.heal()
			h.waitFor("the new run's probe to pass", testkit.DefaultWait, func() bool {
				i, _ := h.e.Info("p")
				return i.Probe == "ok"
			})
		})
	}
}

// TestProbeOnlyWhileRunning: no try runs before RUNNING (startsecs) nor
// after a stop; a stop asked for during a failing probe is a plain stop.
func TestProbeOnlyWhileRunning(t *testing.T) {
	h := newHarness(t)
	var tries atomic.Int32
	s := h.spec("p", "sleep", "1000")
	s.StartSecs = 300 * time.Millisecond
	s.Probe = &ProbeSpec{Check: checkFunc(func(Info) bool { tries.Add(1); return false }), Period: 20 * time.Millisecond, FailureThreshold: 1000}
	h.update(s)
	h.waitState("p", Starting, testkit.DefaultWait)
	h.waitState("p", Running, testkit.DefaultWait)
	if n := tries.Load(); n > 1 {
		t.Errorf("%d tries by the time the process is RUNNING, want at most the first", n)
	}
	h.waitFor("a few tries", testkit.DefaultWait, func() bool { return tries.Load() >= 3 })
	if err := h.e.StopProcess(context.Background(), "p", true); err != nil {
		t.Fatal(err)
	}
	n := tries.Load()
	time.Sleep(200 * time.Millisecond)
	if got := tries.Load(); got > n {
		t.Errorf("%d tries after the stop, want none", got-n)
	}
	if info, _ := h.e.Info("p"); info.State != Stopped || info.Probe != "" {
		t.Errorf("state %s probe %q, want STOPPED and no probe", info.State, info.Probe)
	}
}

// TestReadyTimeoutStopsWithStopSignal: a ready timeout now ends the start
// as a failing probe does: the stopsignal first, SIGKILL only after
// stopwaitsecs.
func TestReadyTimeoutStopsWithStopSignal(t *testing.T) {
	h := newFakeHarness(t)
	mark := h.file("term")
	s := readySpec(h, "never", ReadySpec{Notify: true, Timeout: 5 * time.Second},
		sh(`trap 'echo term >> `+mark+`' TERM; echo trapped > `+mark+`; while :; do sleep 0.05; done`)...)
	s.StartSecs, s.StartRetries, s.StopWait = 0, 0, 2*time.Second
	s.StopAsGroup, s.KillAsGroup = true, true
	h.update(s)
	info := h.waitState("never", Starting, testkit.DefaultWait)
	h.waitFile(mark, "trapped", testkit.DefaultWait) // sh has set its trap
	h.clock.Advance(5 * time.Second)
	h.waitFile(mark, "term", testkit.DefaultWait)
	if !alive(info.Pid) {
		t.Fatal("killed at once: want the stopsignal only until stopwaitsecs")
	}
	h.clock.Advance(2 * time.Second)
	got := h.waitState("never", Fatal, testkit.DefaultWait)
	if got.SpawnErr != "not ready after 5s" || got.ExitSignal.String() != "killed" {
		t.Errorf("spawnerr %q exit signal %v, want %q and SIGKILL", got.SpawnErr, got.ExitSignal, "not ready after 5s")
	}
}

// runNotifyScriptRole follows $TEND_NOTIFY_SCRIPT, steps separated by ';':
// "send:MSG" sends MSG to $NOTIFY_SOCKET, "sleep:DUR" waits, "ping:DUR"
// sends WATCHDOG=1 every DUR for ever. It first writes its pid and its
// WATCHDOG_* variables to $TEND_NOTIFY_ENVFILE. With $TEND_NOTIFY_NOTERM
// it ignores SIGTERM.
func runNotifyScriptRole() {
	if os.Getenv("TEND_NOTIFY_NOTERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	env := fmt.Sprintf("pid=%d WATCHDOG_USEC=%s WATCHDOG_PID=%s", os.Getpid(), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"))
	if err := os.WriteFile(os.Getenv("TEND_NOTIFY_ENVFILE"), []byte(env), 0o600); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	sock := os.Getenv("NOTIFY_SOCKET")
	for _, step := range strings.Split(os.Getenv("TEND_NOTIFY_SCRIPT"), ";") {
		verb, arg, _ := strings.Cut(step, ":")
		switch verb {
		case "send":
			if err := sendNotify(sock, arg); err != nil {
				fmt.Println("ERROR", err)
				os.Exit(1)
			}
		case "sleep":
			d, _ := time.ParseDuration(arg)
			time.Sleep(d)
		case "ping":
			d, _ := time.ParseDuration(arg)
			for {
				time.Sleep(d)
				if err := sendNotify(sock, "WATCHDOG=1"); err != nil {
					fmt.Println("ERROR", err)
					os.Exit(1)
				}
			}
		}
	}
	time.Sleep(time.Hour)
	os.Exit(0)
}

// watchdogSpec is a notify process following script, with the watchdog
// option; its WATCHDOG_* variables go to the file returned.
func watchdogSpec(t *testing.T, h *harness, name string, watchdog time.Duration, script string) (Spec, string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	envFile := h.file(name + ".env")
	s := readySpec(h, name, ReadySpec{Notify: true}, exe)
	s.Environment = map[string]string{testRoleEnv: "notify-script", "TEND_NOTIFY_SCRIPT": script, "TEND_NOTIFY_ENVFILE": envFile}
	s.StartSecs, s.StopWait = 0, time.Second
	s.Watchdog = watchdog
	return s, envFile
}

// TestWatchdog: a notify process gets WATCHDOG_USEC; one that stops
// sending WATCHDOG=1 is killed and restarted with the reason, one that
// keeps pinging survives, WATCHDOG=trigger fails it at once and
// WATCHDOG_USEC= sets a new interval.
func TestWatchdog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		watchdog time.Duration
		script   string
		reason   string // "": must survive
	}{
		{"silent", 300 * time.Millisecond, "send:READY=1", "watchdog timeout after 0.3s"},
		{"pings", 300 * time.Millisecond, "send:READY=1;ping:50ms", ""},
		{"stops pinging", 300 * time.Millisecond, "send:READY=1;send:WATCHDOG=1;sleep:100ms;send:WATCHDOG=1", "watchdog timeout after 0.3s"},
		{"trigger", time.Hour, "send:READY=1;sleep:100ms;send:WATCHDOG=trigger", "watchdog triggered by the program (WATCHDOG=trigger)"},
		{"usec", time.Hour, "send:READY=1;send:WATCHDOG_USEC=200000", "watchdog timeout after 0.2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s, envFile := watchdogSpec(t, h, "wd", tc.watchdog, tc.script)
			h.update(s)
			first := h.waitState("wd", Running, testkit.DefaultWait)
			// The trampoline sets WATCHDOG_PID to the pid it keeps across
			// its exec: the program's own.
			want := fmt.Sprintf("pid=%d WATCHDOG_USEC=%d WATCHDOG_PID=%[1]d", first.Pid, tc.watchdog.Microseconds())
			h.waitFile(envFile, want, testkit.DefaultWait)
			if tc.reason == "" {
				time.Sleep(1200 * time.Millisecond) // four intervals
				info, _ := h.e.Info("wd")
				if info.State != Running || info.Pid != first.Pid || info.Restarts != 0 {
					t.Fatalf("state %s pid %d restarts %d, want the first run still RUNNING", info.State, info.Pid, info.Restarts)
				}
				if !strings.HasPrefix(info.Watchdog, "0.3s, last ping ") {
					t.Errorf("watchdog state %q", info.Watchdog)
				}
				return
			}
			h.waitSeq("wd", testkit.DefaultWait, Running, Exited, Starting, Running)
			info, _ := h.e.Info("wd")
			if info.KillReason != tc.reason || info.Pid == first.Pid {
				t.Errorf("kill reason %q pid %d (was %d), want %q and a new pid", info.KillReason, info.Pid, first.Pid, tc.reason)
			}
			h.sync()
			for _, ev := range h.stateEvents("wd") {
				if ev.To == Exited && (ev.Expected || ev.Cause != causeWatchdog) {
					t.Errorf("EXITED expected=%v cause %q, want unexpected by the watchdog", ev.Expected, ev.Cause)
				}
			}
		})
	}
}

// TestCheckSpecStrings: tend check shows ready and probe as a config
// writes them, not as Go structs.
func TestCheckSpecStrings(t *testing.T) {
	var noProbe *ProbeSpec
	var noReady *ReadySpec
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{&ReadySpec{Notify: true, NotifyAccess: "group", Timeout: time.Minute}, "{notify=systemd notify_access=group timeout=60s}"},
		{&ReadySpec{FD: 3}, "{fd=3}"},
		{&ReadySpec{Log: "up"}, `{log="up"}`},
		{&ProbeSpec{HTTP: "http://x/h", Period: 5 * time.Second, FailureThreshold: 2}, "{http=http://x/h period=5s failure_threshold=2}"},
		{&ProbeSpec{Exec: "pg_isready -q", InitialDelay: 500 * time.Millisecond}, `{exec="pg_isready -q" initial_delay=0.5s}`},
		{&ProbeSpec{Check: checkFunc(nil), SuccessThreshold: 2}, "{check=function success_threshold=2}"},
		{noProbe, "-"},
		{noReady, "-"},
	} {
		if got := fmt.Sprint(tc.v); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// countingCheck passes and counts its calls. It is a pointer, as the
// config's checks are: a spec holding it compares equal to itself.
type countingCheck struct{ atomic.Int32 }

func (c *countingCheck) Ready(context.Context, Info) (bool, error) { c.Add(1); return true, nil }

// TestProbeCheckReplacedByReload: a reload that keeps the probe hands the
// running probe the new scripted check (the old one's VM is gone) and
// does not restart the process.
func TestProbeCheckReplacedByReload(t *testing.T) {
	h := newHarness(t)
	var oldCalls, newCalls countingCheck
	s := h.spec("p", "sleep", "1000")
	s.StartSecs = 0
	s.Probe = &ProbeSpec{Check: &oldCalls, Period: 20 * time.Millisecond}
	h.update(s)
	first := h.waitState("p", Running, testkit.DefaultWait)
	h.waitFor("the first check called", testkit.DefaultWait, func() bool { return oldCalls.Load() > 0 })
	s2 := s
	s2.Probe = &ProbeSpec{Check: &newCalls, Period: 20 * time.Millisecond}
	h.update(s2)
	h.waitFor("the new check called", testkit.DefaultWait, func() bool { return newCalls.Load() >= 2 })
	if info, _ := h.e.Info("p"); info.Pid != first.Pid || info.Restarts != 0 {
		t.Errorf("pid %d restarts %d, want the first run untouched", info.Pid, info.Restarts)
	}
}

// TestProbeInitialDelay: the first try waits initial_delay after RUNNING
// (on the engine's clock), then tries come every period.
func TestProbeInitialDelay(t *testing.T) {
	h := newFakeHarness(t)
	results := make(scriptedCheck)
	s := h.spec("p", "sleep", "1000")
	s.StartSecs = 0
	s.Probe = &ProbeSpec{Check: results, Period: 10 * time.Second, InitialDelay: 30 * time.Second, Timeout: time.Minute}
	h.update(s)
	h.waitState("p", Running, testkit.DefaultWait)
	h.clock.WaitPending(t, 1)
	if got := h.clock.Pending(); got[0] != 30*time.Second {
		t.Fatalf("pending timers %v, want the 30s initial delay", got)
	}
	h.clock.Advance(30 * time.Second)
	results <- true
	h.clock.WaitPending(t, 1)
	if got := h.clock.Pending(); got[0] != 10*time.Second {
		t.Fatalf("pending timers %v after the first try, want the 10s period", got)
	}
	if info, _ := h.e.Info("p"); info.Probe != "ok" {
		t.Errorf("probe %q, want ok", info.Probe)
	}
}

// TestProbeTimeout: a try that gets no answer within timeout fails, and
// the reason says so.
func TestProbeTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t)
	s := h.spec("p", "sleep", "1000")
	s.StartSecs, s.AutoRestart = 0, RestartNever
	s.Probe = &ProbeSpec{HTTP: srv.URL + "/slow", Period: 50 * time.Millisecond, Timeout: 100 * time.Millisecond, FailureThreshold: 1}
	h.update(s)
	info := h.waitState("p", Exited, testkit.DefaultWait)
	if want := "probe failed once: GET " + srv.URL + "/slow: no answer within 0.1s"; info.KillReason != want {
		t.Errorf("kill reason %q, want %q", info.KillReason, want)
	}
}

// TestWatchdogTriggerWhileStarting: WATCHDOG=trigger before RUNNING fails
// the start; a READY=1 sent while the process is being stopped does not
// make it RUNNING.
func TestWatchdogTriggerWhileStarting(t *testing.T) {
	h := newHarness(t)
	s, _ := watchdogSpec(t, h, "wd", time.Hour, "send:WATCHDOG=trigger;sleep:100ms;send:READY=1")
	s.Environment["TEND_NOTIFY_NOTERM"] = "1"
	s.StartRetries, s.StopWait = 0, 500*time.Millisecond
	h.update(s)
	info := h.waitState("wd", Fatal, testkit.DefaultWait)
	const want = "watchdog triggered by the program (WATCHDOG=trigger)"
	if info.SpawnErr != want || info.ExitSignal != syscall.SIGKILL {
		t.Errorf("spawnerr %q exit signal %v, want %q and SIGKILL", info.SpawnErr, info.ExitSignal, want)
	}
	if slices.Contains(h.states("wd"), Running) {
		t.Errorf("states %v: RUNNING while being killed", h.states("wd"))
	}
}
