package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakePolicy answers with fixed decisions, optionally stalling.
type fakePolicy struct {
	exit    Decision
	backoff BackoffDecision
	err     error
	stall   bool // ignore the context and never answer
}

func (f *fakePolicy) OnExit(ctx context.Context, p Info, e ExitInfo) (Decision, error) {
	if f.stall {
		select {}
	}
	return f.exit, f.err
}

func (f *fakePolicy) OnBackoff(ctx context.Context, p Info, e ExitInfo) (BackoffDecision, error) {
	if f.stall {
		select {}
	}
	return f.backoff, f.err
}

func TestPolicyDecisions(t *testing.T) {
	h := newHarness(t)
	mk := func(name, script string, pol Policy, ar AutoRestart) Spec {
		s := h.spec(name, sh(script)...)
		s.StartSecs = 100 * time.Millisecond
		s.StartRetries = 2
		s.AutoRestart = ar
		s.Policy = pol
		s.HookTimeout = 300 * time.Millisecond
		return s
	}
	// A start that exits at once must fail however slow the machine: with
	// startsecs 0.1 s a loaded machine can see "exit 1" reach RUNNING.
	failing := func(s Spec) Spec {
		s.StartSecs = 30 * time.Second
		return s
	}
	h.update(
		// on_exit "restart" after a delay overrides autorestart=false.
		mk("delayed", "sleep 0.3; exit 0", &fakePolicy{exit: Decision{Action: ActionRestart, Delay: 400 * time.Millisecond}}, RestartNever),
		// on_backoff false gives up at the first failure despite retries left.
		failing(mk("giveup", "exit 1", &fakePolicy{backoff: BackoffDecision{GiveUp: true}}, RestartUnexpected)),
		// on_backoff with a short custom delay.
		failing(mk("quickretry", "exit 1", &fakePolicy{backoff: BackoffDecision{Delay: 50 * time.Millisecond}}, RestartUnexpected)),
	)
	h.waitSeq("delayed", 5*time.Second, Exited, Starting)
	evs := h.stateEvents("delayed")
	for i := 1; i < len(evs); i++ {
		if evs[i-1].To == Exited && evs[i].To == Starting {
			if gap := evs[i].Time.Sub(evs[i-1].Time); gap < 400*time.Millisecond {
				t.Errorf("delayed restart after %s, want ≥ 400ms", gap)
			}
		}
	}
	h.waitState("giveup", Fatal, 5*time.Second)
	if got, want := h.states("giveup"), []State{Starting, Backoff, Fatal}; !equalStates(got, want) {
		t.Errorf("giveup states %v, want %v", got, want)
	}
	h.waitState("quickretry", Fatal, 10*time.Second)
	// Each wait from BACKOFF to the next STARTING is the hook's 50 ms, where
	// the default rule would wait 1 s and then 2 s (a timer never fires
	// early). Measuring only these waits, not the spawns between them,
	// keeps a slow machine from looking like an ignored delay.
	evs = h.stateEvents("quickretry")
	retries := 0
	for i := 1; i < len(evs); i++ {
		if evs[i-1].To == Backoff && evs[i].To == Starting {
			retries++
			if gap := evs[i].Time.Sub(evs[i-1].Time); gap >= time.Second {
				t.Errorf("custom backoff ignored: retry %d came %s after BACKOFF, want the hook's 50ms", retries, gap)
			}
		}
	}
	if retries != 2 {
		t.Errorf("quickretry retried %d times, want 2 (startretries=2): %v", retries, h.states("quickretry"))
	}
}

// A hook's answer that says "no restart" leaves nothing behind: once the
// answers are applied (the timer covering each hook's deadline is
// stopped then), no timer is armed and nothing was restarted.
func TestPolicyNoRestart(t *testing.T) {
	h := newFakeHarness(t)
	mk := func(name, script string, pol Policy, ar AutoRestart) Spec {
		s := h.spec(name, sh(script)...)
		s.StartSecs = 0
		s.AutoRestart = ar
		s.Policy = pol
		return s
	}
	h.update(
		// on_exit "stop" overrides autorestart=true.
		mk("stopper", "exit 1", &fakePolicy{exit: Decision{Action: ActionStop}}, RestartAlways),
		// an erroring hook falls back to the supervisord rule.
		mk("broken", "exit 0", &fakePolicy{err: errors.New("hook.lua:3: boom")}, RestartNever),
	)
	h.waitState("stopper", Exited, 5*time.Second)
	h.waitState("broken", Exited, 5*time.Second)
	h.clock.WaitPending(t, 0)
	h.sync()
	for _, name := range []string{"stopper", "broken"} {
		if got, want := h.states(name), []State{Starting, Running, Exited}; !equalStates(got, want) {
			t.Errorf("%s: states %v, want %v (no restart)", name, got, want)
		}
	}
}

// A policy that never answers cannot hold a process hostage: the timer
// covering the deadline applies the supervisord rule, and other processes
// are supervised meanwhile.
func TestStalledPolicyFallsBack(t *testing.T) {
	h := newHarness(t)
	stuck := h.spec("stuck", sh("sleep 0.2; exit 1")...)
	stuck.StartSecs = 100 * time.Millisecond
	stuck.Policy = &fakePolicy{stall: true}
	stuck.HookTimeout = 200 * time.Millisecond
	other := h.spec("other", sh("sleep 0.2; exit 1")...)
	other.StartSecs = 100 * time.Millisecond
	h.update(stuck, other)
	// Default for exit 1 with autorestart=unexpected: restart.
	h.waitSeq("stuck", 15*time.Second, Exited, Starting, Running, Exited, Starting)
	h.waitSeq("other", 15*time.Second, Exited, Starting, Running, Exited, Starting)
}

// gatedPolicy answers "stop" once release is closed.
type gatedPolicy struct{ release chan struct{} }

func (g *gatedPolicy) OnExit(ctx context.Context, p Info, e ExitInfo) (Decision, error) {
	<-g.release
	return Decision{Action: ActionStop}, nil
}

func (g *gatedPolicy) OnBackoff(ctx context.Context, p Info, e ExitInfo) (BackoffDecision, error) {
	<-g.release
	return BackoffDecision{Default: true}, nil
}

// An answer that comes after the process moved on is dropped, and it
// takes the timer covering its deadline with it.
func TestStaleHookAnswerLeavesNoTimer(t *testing.T) {
	h := newFakeHarness(t)
	pol := &gatedPolicy{release: make(chan struct{})}
	s := h.spec("late", sh("exit 1")...)
	s.StartSecs = 0
	s.Policy = pol
	s.HookTimeout = time.Hour
	h.update(s)
	h.waitState("late", Exited, 0)
	if got := h.clock.Pending(); len(got) != 1 {
		t.Fatalf("timers armed %v, want the hook's deadline", got)
	}
	// A stop request on an EXITED process invalidates what was pending.
	if err := h.e.StopProcess(context.Background(), "late", false); FaultOf(err) != FaultNotRunning {
		t.Fatalf("stop: %v, want NOT_RUNNING", err)
	}
	close(pol.release)
	h.clock.WaitPending(t, 0)
	h.sync()
	if got, want := h.states("late"), []State{Starting, Running, Exited}; !equalStates(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}
