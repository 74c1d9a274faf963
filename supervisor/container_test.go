package supervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// TestShutdownBudget: ten groups, each of a program ignoring TERM with
// stopwaitsecs 10, are all SIGKILLed when a 5 s budget runs out, rather
// than after 10 s each one level after another (supervisord: ~100 s). The
// clock is fake: the budget expires when the test advances it 5 s, and
// not a nanosecond earlier.
func TestShutdownBudget(t *testing.T) {
	h, logs := newLoggedHarness(t, Config{Clock: testkit.NewFakeClock()})
	var specs []Spec
	for i := range 10 {
		name := fmt.Sprintf("stubborn%d", i)
		s := h.spec(name, sh(`trap "" TERM; echo ready; exec sleep 1000`)...)
		s.StopWait, s.StartSecs = 10*time.Second, 0
		s.Priority, s.GroupPriority = 100+i, 100+i // each its own level
		s.Stdout.Path = h.file(name + ".log")
		specs = append(specs, s)
	}
	h.update(specs...)
	var pids []int
	for _, s := range specs {
		h.waitFile(s.Stdout.Path, "ready", 10*time.Second)
		pids = append(pids, h.waitState(s.Name, Running, 10*time.Second).Pid)
	}
	done := make(chan ShutdownResult, 1)
	go func() { done <- h.e.ShutdownWith(context.Background(), ShutdownOptions{Budget: 5 * time.Second}) }()
	// The highest level is stopping: its stopwaitsecs, the report and the
	// budget are pending.
	h.waitSeq("stubborn9", 10*time.Second, Stopping)
	h.clock.WaitPending(t, 3)
	h.clock.Advance(5*time.Second - time.Nanosecond)
	select {
	case <-done:
		t.Fatal("shutdown ended before its budget ran out")
	case <-time.After(50 * time.Millisecond):
	}
	if st := h.states("stubborn8"); slices.Contains(st, Stopping) {
		t.Fatalf("stubborn8 was signalled while stubborn9 still had budget: %v", st)
	}
	h.clock.Advance(time.Nanosecond)
	var res ShutdownResult
	select {
	case res = <-done:
	case <-time.After(testkit.DefaultWait):
		t.Fatalf("shutdown did not end when the budget ran out:\n%s", logs)
	}
	if !res.BudgetSpent || len(res.Killed) != 10 {
		t.Errorf("result %+v, want the budget spent and ten killed", res)
	}
	for i, pid := range pids {
		h.waitFor(fmt.Sprintf("stubborn%d (pid %d) gone", i, pid), 10*time.Second, func() bool { return !alive(pid) })
	}
	if !strings.Contains(logs.String(), "shutdown time is up: killing stubborn0") {
		t.Errorf("log does not name the killed processes:\n%s", logs)
	}
}

// TestShutdownKilledAtStopwait: with no budget, a process SIGKILLed at its
// stopwaitsecs is named in the result (tend's exit status becomes 137), one
// that obeys its stop signal is not; ShutdownOptions.Signal replaces the
// stop signal (rewrite = { TERM = "QUIT" }).
func TestShutdownKilledAtStopwait(t *testing.T) {
	h := newFakeHarness(t)
	stub := h.spec("stub", sh(`trap "" TERM; trap "echo quit; exit 0" QUIT; echo ready; while :; do sleep 0.05; done`)...)
	stub.StartSecs, stub.Stdout.Path = 0, h.file("stub.log")
	obey := h.spec("obey", "sleep", "1000")
	obey.StartSecs = 0
	h.update(stub, obey)
	h.waitFile(stub.Stdout.Path, "ready", 10*time.Second)
	h.waitState("obey", Running, 10*time.Second)
	res := h.e.ShutdownWith(context.Background(), ShutdownOptions{Signal: syscall.SIGQUIT})
	if len(res.Killed) != 0 || res.BudgetSpent {
		t.Errorf("result %+v, want nothing killed", res)
	}
	h.waitFile(stub.Stdout.Path, "quit", 10*time.Second)

	h2 := newFakeHarness(t)
	stub2 := h2.spec("stub", sh(`trap "" TERM; echo ready; exec sleep 1000`)...)
	stub2.StartSecs, stub2.Stdout.Path = 0, h2.file("stub.log")
	h2.update(stub2)
	h2.waitFile(stub2.Stdout.Path, "ready", 10*time.Second)
	done := make(chan ShutdownResult, 1)
	go func() { done <- h2.e.ShutdownWith(context.Background(), ShutdownOptions{}) }()
	h2.waitSeq("stub", 10*time.Second, Stopping)
	h2.clock.WaitPending(t, 2)
	h2.clock.Advance(stub2.StopWait)
	select {
	case res = <-done:
	case <-time.After(testkit.DefaultWait):
		t.Fatal("shutdown did not end after stopwaitsecs")
	}
	if !slices.Equal(res.Killed, []string{"stub"}) || res.BudgetSpent {
		t.Errorf("result %+v, want stub killed at its stopwaitsecs", res)
	}
}

// TestProcessDoneEvents: TEND_PROCESS_DONE comes once a process ended for
// good — an expected exit with autorestart unexpected, FATAL after spawn
// failures, a kill with autorestart false — with the exit's code and
// signal, and never for an exit that is restarted; listeners never get it.
func TestProcessDoneEvents(t *testing.T) {
	h := newHarness(t)
	zero := h.spec("zero", sh("sleep 0.5; exit 0")...)
	three := h.spec("three", sh("sleep 0.5; exit 3")...)
	three.AutoRestart, three.ExitCodes = RestartNever, []int{0}
	killed := h.spec("killed", sh("sleep 0.5; kill -KILL $$")...)
	killed.AutoRestart = RestartNever
	missing := h.spec("missing", "/nonexistent/program")
	missing.StartRetries = 1
	again := h.spec("again", sh("sleep 0.4; exit 5")...)
	again.AutoRestart = RestartAlways
	h.update(zero, three, killed, missing, again)
	want := map[string]Event{
		"zero":    {ExitCode: 0, Expected: true, To: Exited},
		"three":   {ExitCode: 3, To: Exited},
		"killed":  {ExitCode: -1, Signal: syscall.SIGKILL, To: Exited},
		"missing": {ExitCode: -1, To: Fatal},
	}
	done := func() map[string]Event {
		out := map[string]Event{}
		for _, ev := range h.all() {
			if ev.Type == EventProcessDone {
				if _, dup := out[ev.Process]; dup {
					t.Errorf("two done events for %s", ev.Process)
				}
				out[ev.Process] = ev
			}
		}
		return out
	}
	h.waitEngine("four done events", 10*time.Second, func() bool { return len(done()) == 4 })
	h.waitSeq("again", 10*time.Second, Exited, Starting, Running, Exited, Starting)
	h.sync()
	got := done()
	for name, w := range want {
		g, ok := got[name]
		if !ok || g.ExitCode != w.ExitCode || g.Signal != w.Signal || g.Expected != w.Expected || g.To != w.To {
			t.Errorf("%s: done %+v, want code %d signal %v expected %v state %v", name, g, w.ExitCode, w.Signal, w.Expected, w.To)
		}
	}
	if _, ok := got["again"]; ok {
		t.Error("a done event for a process that is restarted")
	}
}
