package supervisor

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// These tests run the engine on a fake clock with real children: the
// children live and die in real time, but the engine's timers fire only
// when the test advances the clock. An Advance runs what falls due before
// it returns, so "not yet" is checked at the last instant before a
// deadline and "now" at the deadline, with no sleep and no tolerance.
//
// (testing/synctest cannot do this: its bubble's time moves only when
// every goroutine is durably blocked, and the engine's goroutines block in
// epoll, on pidfds and on SIGCHLD from signal.Notify, which synctest
// counts as not durable, or forbids, as a bubbled channel fed from the
// signal package's goroutine outside the bubble.)

// untouched reports whether pid is alive with no signal pending: nothing
// has been sent to it that it has not ignored. Unlike alive alone, it
// catches a SIGKILL sent but not yet acted on.
func untouched(pid int) bool {
	if !alive(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if (k == "SigPnd" || k == "ShdPnd") && strings.Trim(strings.TrimSpace(v), "0") != "" {
			return false
		}
	}
	return true
}

// lastState returns the state name last entered, after a sync.
func (h *harness) lastState(name string) State {
	h.t.Helper()
	h.sync()
	st := h.states(name)
	if len(st) == 0 {
		return Stopped
	}
	return st[len(st)-1]
}

// Section 1 of the reference: failed starts back off 1 s, 2 s, 3 s (the
// Nth retry N seconds after the Nth failure), then FATAL; each retry comes
// exactly when due, not a nanosecond before.
func TestBackoffOnFakeClock(t *testing.T) {
	h := newFakeHarness(t)
	s := h.spec("quick", sh("echo hi; exit 3")...)
	s.StartSecs = time.Second
	s.StartRetries = 3
	h.update(s)
	for n := 1; n <= 3; n++ {
		var failed Event
		h.waitEngine(fmt.Sprintf("failure %d", n), 0, func() bool {
			evs := h.stateEvents("quick")
			if len(evs) == 0 {
				return false
			}
			failed = evs[len(evs)-1]
			return failed.To == Backoff && failed.Tries == n
		})
		h.sync() // the transition that published BACKOFF has armed its timer
		wait := time.Duration(n) * time.Second
		if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{wait}) {
			t.Fatalf("after failure %d the timers armed are %v, want just the %s backoff", n, got, wait)
		}
		h.clock.Advance(wait - time.Nanosecond)
		if st := h.lastState("quick"); st != Backoff {
			t.Fatalf("retry %d came early: %s a nanosecond before its %s backoff ended", n, st, wait)
		}
		h.clock.Advance(time.Nanosecond)
		h.sync()
		evs := h.stateEvents("quick")
		i := slices.IndexFunc(evs, func(ev Event) bool { return ev.To == Starting && ev.Tries == n })
		if i < 0 {
			t.Fatalf("retry %d did not start when its %s backoff ended: %v", n, wait, h.states("quick"))
		}
		if gap := evs[i].Time.Sub(failed.Time); gap != wait {
			t.Errorf("retry %d came %s after the failure, want %s", n, gap, wait)
		}
	}
	h.waitState("quick", Fatal, 0)
	want := []State{Starting, Backoff, Starting, Backoff, Starting, Backoff, Starting, Backoff, Fatal}
	if got := h.states("quick"); !slices.Equal(got, want) {
		t.Fatalf("states = %v, want %v", got, want)
	}
	// tries: STARTING 0, BACKOFF 1, STARTING 1, BACKOFF 2, ...
	for i, ev := range h.stateEvents("quick")[:8] {
		if want := (i + 1) / 2; ev.Tries != want {
			t.Errorf("event %d (%s) tries = %d, want %d", i, ev.Name(), ev.Tries, want)
		}
	}
	if got := h.clock.Pending(); len(got) != 0 {
		t.Errorf("FATAL left timers armed: %v", got)
	}
	info, _ := h.e.Info("quick")
	if got, want := info.Description(), "Exited too quickly (process log may have details)"; got != want {
		t.Errorf("description %q, want %q", got, want)
	}
}

// A process enters RUNNING exactly when startsecs have passed, and a
// start with wait returns then, not before.
func TestStartsecsOnFakeClock(t *testing.T) {
	h := newFakeHarness(t)
	s := h.spec("slow", "sleep", "1000")
	s.StartSecs = 5 * time.Second
	s.AutoStart = false
	h.update(s)
	started := make(chan error, 1)
	go func() { started <- h.e.StartProcess(context.Background(), "slow", true) }()
	h.waitState("slow", Starting, 0)
	if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Fatalf("timers armed %v, want the 5s startsecs", got)
	}
	h.clock.Advance(5*time.Second - time.Nanosecond)
	if st := h.lastState("slow"); st != Starting {
		t.Fatalf("state %s a nanosecond before startsecs, want STARTING", st)
	}
	select {
	case err := <-started:
		t.Fatalf("start with wait returned (%v) while still STARTING", err)
	default:
	}
	h.clock.Advance(time.Nanosecond)
	if i, _ := h.e.Info("slow"); i.State != Running {
		t.Fatalf("state %s once startsecs passed, want RUNNING", i.State)
	}
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start with wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("start with wait did not return once RUNNING")
	}
	h.sync()
	evs := h.stateEvents("slow")
	if gap := evs[len(evs)-1].Time.Sub(evs[len(evs)-2].Time); gap != 5*time.Second {
		t.Errorf("RUNNING came %s after STARTING, want 5s", gap)
	}
}

// startIgnoringTerm runs "ign", a child that ignores SIGTERM, with a 10 s
// stopwaitsecs on a fake clock, and returns once its trap is set (it says
// "ready" after the trap and execs the sleep: an ignored signal stays
// ignored across exec).
func startIgnoringTerm(t *testing.T) (*harness, *testkit.Buffer, Info) {
	h, logs := newLoggedHarness(t, Config{Clock: testkit.NewFakeClock()})
	s := h.spec("ign", sh(`trap "" TERM; echo ready; exec sleep 1000`)...)
	s.StartSecs = 0
	s.StopWait = 10 * time.Second
	s.Stdout.Path = h.file("ign.log")
	h.update(s)
	info := h.waitState("ign", Running, 0)
	h.waitFile(h.file("ign.log"), "ready", 0)
	return h, logs, info
}

// Section 2: a child that ignores its stop signal gets SIGKILL exactly
// when stopwaitsecs have passed, and not a nanosecond before.
func TestStopwaitOnFakeClock(t *testing.T) {
	h, logs, info := startIgnoringTerm(t)
	if err := h.e.StopProcess(context.Background(), "ign", false); err != nil {
		t.Fatal(err)
	}
	if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{10 * time.Second}) {
		t.Fatalf("timers armed %v, want the 10s stopwaitsecs", got)
	}
	h.clock.Advance(10*time.Second - time.Nanosecond)
	if st := h.lastState("ign"); st != Stopping {
		t.Fatalf("state %s a nanosecond before stopwaitsecs, want STOPPING", st)
	}
	if !untouched(info.Pid) || strings.Contains(logs.String(), "SIGKILL") {
		t.Fatalf("the child was killed before stopwaitsecs:\n%s", logs)
	}
	h.clock.Advance(time.Nanosecond)
	if want := fmt.Sprintf("killing 'ign' (%d) with SIGKILL", info.Pid); !strings.Contains(logs.String(), want) {
		t.Fatalf("no %q once stopwaitsecs passed:\n%s", want, logs)
	}
	h.waitState("ign", Stopped, 0)
	evs := h.stateEvents("ign")
	if got, want := h.states("ign"), []State{Starting, Running, Stopping, Stopped}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	if gap := evs[3].Time.Sub(evs[2].Time); gap != 10*time.Second {
		t.Errorf("STOPPED came %s after STOPPING, want 10s", gap)
	}
}

// A second stop of a STOPPING process answers NOT_RUNNING, as supervisord
// does, and leaves the first stop's SIGKILL armed: two clients stopping a
// program that ignores TERM at the same moment must not leave it wedged in
// STOPPING (found by scripts/soak's stop-race).
func TestSecondStopKeepsKillTimer(t *testing.T) {
	h, logs, info := startIgnoringTerm(t)
	if err := h.e.StopProcess(context.Background(), "ign", false); err != nil {
		t.Fatal(err)
	}
	if err := h.e.StopProcess(context.Background(), "ign", false); FaultOf(err) != FaultNotRunning {
		t.Fatalf("second stop: %v, want NOT_RUNNING", err)
	}
	if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{10 * time.Second}) {
		t.Fatalf("timers armed %v after the second stop, want the first stop's 10s", got)
	}
	h.clock.Advance(10 * time.Second)
	if want := fmt.Sprintf("killing 'ign' (%d) with SIGKILL", info.Pid); !strings.Contains(logs.String(), want) {
		t.Fatalf("no %q once stopwaitsecs passed:\n%s", want, logs)
	}
	h.waitState("ign", Stopped, 0)
}

// A shutdown whose deadline passed SIGKILLs what still runs and returns
// once the children are reaped: its wait for the reaping is woken by the
// reaper, not by a clock (here, a clock that never moves).
func TestShutdownDrainsKilledChildren(t *testing.T) {
	h := newFakeHarness(t)
	s := h.spec("stubborn", sh(`trap "" TERM; echo ready; exec sleep 1000`)...)
	s.StartSecs = 0
	s.StopWait = time.Hour
	s.Stdout.Path = h.file("stubborn.log")
	h.update(s)
	pid := h.waitState("stubborn", Running, 0).Pid
	h.waitFile(s.Stdout.Path, "ready", 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { defer close(done); h.e.Shutdown(ctx) }()
	select {
	case <-done:
	case <-time.After(testkit.DefaultWait):
		t.Fatal("shutdown did not return once its child was killed and reaped")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("child %d still exists (running or unreaped) after shutdown", pid)
	}
}
