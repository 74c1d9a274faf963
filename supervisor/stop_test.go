package supervisor

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// Section 2 of the reference: stop signals, escalation, process groups.
// (Escalation to SIGKILL at stopwaitsecs is TestStopwaitOnFakeClock's.)
func TestStopSignal(t *testing.T) {
	h := newHarness(t)
	term := h.spec("term_ok", "sleep", "1000")
	// Processes that obey their stop signal get a stopwaitsecs far beyond
	// the time allowed below, so a stop that needed the SIGKILL fails the
	// test however loaded the machine is.
	term.StopWait = 30 * time.Second
	// The script says "ready" once its trap is set: a signal that came
	// before would meet the default action, and the test would race.
	sigint := h.spec("sigint", sh(`trap 'echo got INT; exit 0' INT; echo ready; while :; do sleep 0.05; done`)...)
	sigint.StopSignal = syscall.SIGINT
	sigint.StopWait = 30 * time.Second
	sigint.Stdout.Path = h.file("sigint.log")
	for _, s := range []*Spec{&term, &sigint} {
		s.StartSecs = 0
	}
	h.update(term, sigint)
	for _, n := range []string{"term_ok", "sigint"} {
		h.waitState(n, Running, 5*time.Second)
	}
	h.waitFile(h.file("sigint.log"), "ready", 5*time.Second)
	ctx := context.Background()
	for _, name := range []string{"term_ok", "sigint"} {
		// The bound only catches a signal that did not work (the SIGKILL
		// 30 s later); it is generous because a loaded machine can take
		// seconds to deliver, reap and report.
		t0 := time.Now()
		if err := h.e.StopProcess(ctx, name, true); err != nil {
			t.Fatalf("stop %s: %v", name, err)
		}
		if el := time.Since(t0); el > 15*time.Second {
			t.Errorf("stop %s took %s: its stop signal did not stop it", name, el)
		}
		h.waitState(name, Stopped, 10*time.Second)
	}
	h.waitFile(h.file("sigint.log"), "got INT", 10*time.Second)
}

// grandchildPids reads the pids a test child printed ("sleep 1001 & echo $!").
func grandchildPids(t *testing.T, h *harness, path string, n int) []int {
	t.Helper()
	var pids []int
	h.waitFor("grandchild pids in "+path, 5*time.Second, func() bool {
		b, _ := readFileMaybe(path)
		pids = nil
		for _, f := range strings.Fields(b) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
		return len(pids) >= n
	})
	return pids
}

// What becomes of a stopped process's children, per stopasgroup and
// killasgroup. On a fake clock, once every timer has fired (Advance of an
// hour), a grandchild with no signal pending will never get one.
func TestStopGrandchildren(t *testing.T) {
	cases := []struct {
		name        string
		stopAsGroup bool
		killAsGroup bool
		ignoreTerm  bool
		survive     bool
	}{
		{"plain", false, false, false, true},
		{"stopasgroup", true, true, false, false},
		{"killasgroup_only", false, true, true, false},
		{"neither_ignored", false, false, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newFakeHarness(t)
			trap := ""
			if c.ignoreTerm {
				trap = `trap "" TERM; `
			}
			s := h.spec(c.name, sh(trap+`sleep 1001 & echo $!; sleep 1011 & echo $!; echo ready; wait`)...)
			s.StartSecs = 0
			s.StopAsGroup, s.KillAsGroup = c.stopAsGroup, c.killAsGroup
			s.StopWait = 500 * time.Millisecond
			s.Stdout.Path = h.file(c.name + ".pids")
			h.update(s)
			pids := grandchildPids(t, h, h.file(c.name+".pids"), 2)
			h.waitFile(h.file(c.name+".pids"), "ready", 0)
			if err := h.e.StopProcess(context.Background(), c.name, false); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if !c.ignoreTerm {
				h.waitState(c.name, Stopped, 0) // by its stop signal
			}
			h.clock.Advance(time.Hour) // stopwaitsecs and any later kill
			h.waitState(c.name, Stopped, 0)
			if c.survive {
				for _, p := range pids {
					if !untouched(p) {
						t.Errorf("grandchild %d was signalled, supervisord leaves it running", p)
					}
					syscall.Kill(p, syscall.SIGKILL)
				}
				return
			}
			h.waitFor("grandchildren gone", 10*time.Second, func() bool {
				for _, p := range pids {
					if alive(p) {
						return false
					}
				}
				return true
			})
		})
	}
}

// The leader exits on TERM at once but the rest of its group ignores it:
// killasgroup still SIGKILLs the group exactly at the stopwaitsecs
// deadline.
func TestKillAsGroupAfterLeaderExits(t *testing.T) {
	h := newFakeHarness(t)
	// The group member ignores TERM before it says "ready" and execs the
	// sleep (an ignored signal stays ignored across exec).
	s := h.spec("leader", sh(`trap 'exit 0' TERM; (trap "" TERM; echo ready; exec sleep 1001) & echo $!; while :; do sleep 0.05; done`)...)
	s.StartSecs = 0
	s.StopAsGroup, s.KillAsGroup = true, true
	s.StopWait = 1500 * time.Millisecond
	s.Stdout.Path = h.file("leader.pids")
	h.update(s)
	pids := grandchildPids(t, h, h.file("leader.pids"), 1)
	h.waitFile(h.file("leader.pids"), "ready", 5*time.Second)
	if err := h.e.StopProcess(context.Background(), "leader", true); err != nil {
		t.Fatal(err)
	}
	// The leader is gone; the stopwaitsecs deadline is still whole.
	if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{1500 * time.Millisecond}) {
		t.Fatalf("timers armed %v, want the 1.5s kill of the lingering group", got)
	}
	h.clock.Advance(1500*time.Millisecond - time.Nanosecond)
	if !untouched(pids[0]) {
		t.Fatalf("the TERM-ignoring group member was killed before the deadline")
	}
	h.clock.Advance(time.Nanosecond)
	h.waitFor("group member killed at the deadline", 5*time.Second, func() bool { return !alive(pids[0]) })
}

func TestShutdownOrderDescendingPriority(t *testing.T) {
	h := newHarness(t)
	var specs []Spec
	for _, c := range []struct {
		name string
		prio int
	}{{"low", 100}, {"mid", 200}, {"high", 300}} {
		s := h.spec(c.name, "sleep", "1000")
		s.StartSecs = 0
		s.Priority, s.GroupPriority = c.prio, c.prio
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, n := range []string{"low", "mid", "high"} {
		h.waitState(n, Running, 5*time.Second)
	}
	startOrder := h.order(Starting)
	if got, want := strings.Join(startOrder, ","), "low,mid,high"; got != want {
		t.Errorf("start order %s, want %s", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.e.Shutdown(ctx)
	h.waitEngine("all stopped events", 10*time.Second, func() bool { return len(h.order(Stopped)) == 3 })
	if got, want := strings.Join(h.order(Stopping), ","), "high,mid,low"; got != want {
		t.Errorf("shutdown order %s, want %s", got, want)
	}
	// Each group is fully stopped before the next is signalled.
	evs := h.eventsOf(Stopping, Stopped)
	var seq []string
	for _, ev := range evs {
		seq = append(seq, ev.Process+":"+ev.To.String())
	}
	want := "high:STOPPING,high:STOPPED,mid:STOPPING,mid:STOPPED,low:STOPPING,low:STOPPED"
	if got := strings.Join(seq, ","); got != want {
		t.Errorf("shutdown sequence %s, want %s", got, want)
	}
	if err := h.e.StartProcess(ctx, "low", false); FaultOf(err) != FaultShutdownState {
		t.Errorf("start after shutdown: %v, want SHUTDOWN_STATE", err)
	}
}

func TestStopAllAscendingAtOnce(t *testing.T) {
	h := newHarness(t)
	var specs []Spec
	for i, name := range []string{"c", "a", "b"} {
		s := h.spec(name, sh(`trap "" TERM; while :; do sleep 0.05; done`)...)
		s.StartSecs = 0
		s.StopWait = time.Second
		s.Priority, s.GroupPriority = 100*(i+1), 100*(i+1)
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, n := range []string{"a", "b", "c"} {
		h.waitState(n, Running, 5*time.Second)
	}
	res, _ := h.e.Stop(context.Background(), AllTarget, true)
	if len(res) != 3 {
		t.Fatalf("StopAll results %v", res)
	}
	h.waitEngine("all stopped events", 10*time.Second, func() bool { return len(h.order(Stopped)) == 3 })
	// All three were signalled together: each ignores TERM and stops only
	// at its stopwaitsecs SIGKILL, so every STOPPING precedes every STOPPED.
	// (Stopped one after another, the first would be STOPPED before the
	// second is STOPPING.) Event order, unlike wall time, does not depend
	// on the machine's load.
	var seq []string
	for _, ev := range h.eventsOf(Stopping, Stopped) {
		seq = append(seq, ev.To.String())
	}
	if got, want := strings.Join(seq, ","), "STOPPING,STOPPING,STOPPING,STOPPED,STOPPED,STOPPED"; got != want {
		t.Errorf("StopAll sequence %s, want %s: processes were stopped one after another", got, want)
	}
	if got, want := strings.Join(h.order(Stopping), ","), "c,a,b"; got != want {
		t.Errorf("StopAll signal order %s, want ascending priority %s", got, want)
	}
}

func (h *harness) eventsOf(states ...State) []Event {
	var out []Event
	for _, ev := range h.all() {
		for _, s := range states {
			if ev.Type == EventProcessState && ev.To == s {
				out = append(out, ev)
			}
		}
	}
	return out
}

// order lists the processes in the order they entered st.
func (h *harness) order(st State) []string {
	var out []string
	for _, ev := range h.eventsOf(st) {
		out = append(out, ev.Process)
	}
	return out
}

// Shutdown names the processes it still waits for, in ascending priority
// as supervisord's shutdown_report does: at once, then every 3 s.
func TestShutdownReportsWhatItWaitsFor(t *testing.T) {
	h, logs := newLoggedHarness(t, Config{Clock: testkit.NewFakeClock()})
	// late stops first (highest priority) and ignores TERM, so the shutdown
	// lasts its 5 s stopwaitsecs and reports at 0 s and at 3 s before
	// anything has stopped; the others obey TERM.
	late := h.spec("late", sh(`trap "" TERM; echo ready; exec sleep 1000`)...)
	late.Priority, late.StopWait, late.Stdout.Path = 300, 5*time.Second, h.file("late.log")
	early := h.spec("early", "sleep", "1000")
	early.Priority = 100
	slow := h.spec("slow", "sleep", "1000")
	slow.Priority = 200
	for _, s := range []*Spec{&late, &early, &slow} {
		s.StartSecs, s.GroupPriority = 0, s.Priority // each its own group
	}
	h.update(late, early, slow)
	h.waitFile(late.Stdout.Path, "ready", 10*time.Second)
	for _, n := range []string{"early", "slow"} {
		h.waitState(n, Running, 10*time.Second)
	}
	done := make(chan struct{})
	go func() { defer close(done); h.e.Shutdown(context.Background()) }()
	reports := func() []string {
		var out []string
		for _, m := range regexp.MustCompile(`waiting for ([a-z, ]+) to die`).FindAllStringSubmatch(logs.String(), -1) {
			out = append(out, m[1])
		}
		return out
	}
	h.clock.WaitPending(t, 2) // the next report, and late's stopwaitsecs
	if got, want := reports(), []string{"early, slow, late"}; !slices.Equal(got, want) {
		t.Fatalf("reports at once %q, want %q", got, want)
	}
	h.clock.Advance(3*time.Second - time.Nanosecond)
	if got := reports(); len(got) != 1 {
		t.Fatalf("reports before 3 s: %q, want one", got)
	}
	h.clock.Advance(time.Nanosecond)
	if got, want := reports(), []string{"early, slow, late", "early, slow, late"}; !slices.Equal(got, want) {
		t.Fatalf("reports at 3 s %q, want %q", got, want)
	}
	h.clock.Advance(2 * time.Second) // late's SIGKILL
	select {
	case <-done:
	case <-time.After(testkit.DefaultWait):
		t.Fatalf("shutdown did not finish once late was killed:\n%s", logs)
	}
	if got := reports(); len(got) != 2 {
		t.Errorf("reports %q, want two", got)
	}
}
