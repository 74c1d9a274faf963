package supervisor

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Section 2 of the reference: stop signals, escalation, process groups.
func TestStopSignalAndEscalation(t *testing.T) {
	h := newHarness(t)
	term := h.spec("term_ok", "sleep", "1000")
	// Processes that obey their stop signal get a stopwaitsecs far beyond
	// the time allowed below, so a stop that needed the SIGKILL fails the
	// test however loaded the machine is.
	term.StopWait = 30 * time.Second
	// Each script says "ready" once its trap is set: a signal that came
	// before would meet the default action, and the test would race.
	sigint := h.spec("sigint", sh(`trap 'echo got INT; exit 0' INT; echo ready; while :; do sleep 0.05; done`)...)
	sigint.StopSignal = syscall.SIGINT
	sigint.StopWait = 30 * time.Second
	sigint.Stdout.Path = h.file("sigint.log")
	ign := h.spec("ign", sh(`trap "" TERM; echo ready; while :; do sleep 0.05; done`)...)
	ign.StopWait = 700 * time.Millisecond
	ign.Stdout.Path = h.file("ign.log")
	for _, s := range []*Spec{&term, &sigint, &ign} {
		s.StartSecs = 0
	}
	h.update(term, sigint, ign)
	for _, n := range []string{"term_ok", "sigint", "ign"} {
		h.waitState(n, Running, 5*time.Second)
	}
	h.waitFile(h.file("sigint.log"), "ready", 5*time.Second)
	h.waitFile(h.file("ign.log"), "ready", 5*time.Second)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		minWait time.Duration
		maxWait time.Duration
	}{
		// The upper bounds only catch a signal that did not work (the
		// SIGKILL 30 s later) or an escalation that never came; they are
		// generous because a loaded machine can take seconds to deliver,
		// reap and report.
		{"term_ok", 0, 15 * time.Second},
		{"sigint", 0, 15 * time.Second},
		{"ign", 700 * time.Millisecond, 15 * time.Second},
	} {
		t0 := time.Now()
		if err := h.e.StopProcess(ctx, c.name, true); err != nil {
			t.Fatalf("stop %s: %v", c.name, err)
		}
		el := time.Since(t0)
		if el < c.minWait || el > c.maxWait {
			t.Errorf("stop %s took %s, want between %s and %s", c.name, el, c.minWait, c.maxWait)
		}
		h.waitState(c.name, Stopped, 10*time.Second)
	}
	h.waitFile(h.file("sigint.log"), "got INT", 10*time.Second)
	if got, want := h.states("ign"), []State{Starting, Running, Stopping, Stopped}; !equalStates(got, want) {
		t.Errorf("ign states %v, want %v", got, want)
	}
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
	h := newHarness(t)
	var specs []Spec
	for _, c := range cases {
		trap := ""
		if c.ignoreTerm {
			trap = `trap "" TERM; `
		}
		s := h.spec(c.name, sh(trap+`sleep 1001 & echo $!; sleep 1011 & echo $!; wait`)...)
		s.StartSecs = 0
		s.StopAsGroup, s.KillAsGroup = c.stopAsGroup, c.killAsGroup
		s.StopWait = 500 * time.Millisecond
		s.Stdout.Path = h.file(c.name + ".pids")
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, c := range cases {
		pids := grandchildPids(t, h, h.file(c.name+".pids"), 2)
		if err := h.e.StopProcess(context.Background(), c.name, true); err != nil {
			t.Fatalf("%s: stop: %v", c.name, err)
		}
		if c.survive {
			time.Sleep(200 * time.Millisecond)
			for _, p := range pids {
				if !alive(p) {
					t.Errorf("%s: grandchild %d died, supervisord leaves it running", c.name, p)
				}
				syscall.Kill(p, syscall.SIGKILL)
			}
			continue
		}
		h.waitFor(c.name+": grandchildren gone", 10*time.Second, func() bool {
			for _, p := range pids {
				if alive(p) {
					return false
				}
			}
			return true
		})
	}
}

// The leader exits on TERM at once but the rest of its group ignores it:
// killasgroup still SIGKILLs the group at the stopwaitsecs deadline.
func TestKillAsGroupAfterLeaderExits(t *testing.T) {
	h := newHarness(t)
	// The group member ignores TERM before it says "ready" and execs the
	// sleep (an ignored signal stays ignored across exec).
	s := h.spec("leader", sh(`trap 'exit 0' TERM; (trap "" TERM; echo ready; exec sleep 1001) & echo $!; while :; do sleep 0.05; done`)...)
	s.StartSecs = 0
	s.StopAsGroup, s.KillAsGroup = true, true
	s.StopWait = 1500 * time.Millisecond // the leader's exit must come well before it, even on a loaded machine
	s.Stdout.Path = h.file("leader.pids")
	h.update(s)
	pids := grandchildPids(t, h, h.file("leader.pids"), 1)
	h.waitFile(h.file("leader.pids"), "ready", 5*time.Second)
	if err := h.e.StopProcess(context.Background(), "leader", true); err != nil {
		t.Fatal(err)
	}
	if !alive(pids[0]) {
		t.Fatalf("the TERM-ignoring group member died before the deadline")
	}
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
	h.waitFor("all stopped events", 10*time.Second, func() bool { return len(h.order(Stopped)) == 3 })
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
	res := h.e.StopAll(context.Background(), true)
	if len(res) != 3 {
		t.Fatalf("StopAll results %v", res)
	}
	h.waitFor("all stopped events", 10*time.Second, func() bool { return len(h.order(Stopped)) == 3 })
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
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, ev := range h.events {
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
	h, logs := newLoggedHarness(t)
	// late stops first (highest priority) and ignores TERM, so the shutdown
	// lasts its 5 s stopwaitsecs and reports twice (at 0 s and at 3 s)
	// before anything has stopped; the others obey TERM.
	late := h.spec("late", sh(`trap "" TERM; echo ready; while :; do sleep 0.05; done`)...)
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
	h.e.Shutdown(context.Background())
	lines := regexp.MustCompile(`waiting for ([a-z, ]+) to die`).FindAllStringSubmatch(logs.String(), -1)
	if len(lines) < 2 || lines[0][1] != "early, slow, late" {
		t.Errorf("reports %q, want at least two, the first naming early, slow, late:\n%s", lines, logs)
	}
}
