package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pool returns n instances of program "web" (group "web") running argv.
func (h *harness) pool(n int, argv ...string) []Spec {
	var specs []Spec
	for i := range n {
		s := h.spec(fmt.Sprintf("web_%02d", i), argv...)
		s.Program, s.Group, s.Num, s.NumProcs = "web", "web", i, n
		specs = append(specs, s)
	}
	return specs
}

// pids returns the pid of every process of group web by name.
func (h *harness) pids() map[string]int {
	out := map[string]int{}
	for _, i := range h.e.Status() {
		out[i.Namespec()] = i.Pid
	}
	return out
}

// peers counts the instances that have a second run (a roll's peer).
func (h *harness) peers() int {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	n := 0
	for _, p := range h.e.procs {
		if p.peer != nil {
			n++
		}
	}
	return n
}

// sample polls the engine until stop is closed and records the fewest
// RUNNING names and the most peers seen at once.
type sample struct {
	minRunning, maxPeers atomic.Int64
	stop                 chan struct{}
	done                 sync.WaitGroup
}

func (h *harness) sample() *sample {
	s := &sample{stop: make(chan struct{})}
	s.minRunning.Store(1 << 30)
	s.done.Go(func() {
		for {
			running := 0
			for _, i := range h.e.Status() {
				if i.State == Running {
					running++
				}
			}
			if int64(running) < s.minRunning.Load() {
				s.minRunning.Store(int64(running))
			}
			if n := int64(h.peers()); n > s.maxPeers.Load() {
				s.maxPeers.Store(n)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return s
}

func (s *sample) end() (minRunning, maxPeers int) {
	close(s.stop)
	s.done.Wait()
	return int(s.minRunning.Load()), int(s.maxPeers.Load())
}

// TestRollReplacesEveryInstance: every instance gets a new pid under the
// same name, the old pids are gone, the pool never has fewer than N
// RUNNING names nor more than max_surge peers, supervisorctl sees no state
// change, and both runs log to the same file.
func TestRollReplacesEveryInstance(t *testing.T) {
	for _, surge := range []int{1, 2} {
		t.Run(fmt.Sprintf("max_surge=%d", surge), func(t *testing.T) {
			h := newHarness(t)
			h.update(h.pool(4, sh("echo run $$; exec sleep 1000")...)...)
			for i := range 4 {
				h.waitState(fmt.Sprintf("web:web_%02d", i), Running, 0)
			}
			before := h.pids()
			h.sync()
			events := len(h.states("web:web_00")) + len(h.states("web:web_03"))

			var steps []RollStep
			s := h.sample()
			err := h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxSurge: surge,
				Progress: func(st RollStep) { steps = append(steps, st) }})
			minRunning, maxPeers := s.end()
			if err != nil {
				t.Fatalf("Roll: %v", err)
			}
			after := h.pids()
			if len(after) != 4 {
				t.Fatalf("names after the roll: %v", after)
			}
			for name, old := range before {
				if after[name] == 0 || after[name] == old {
					t.Errorf("%s: pid %d before, %d after", name, old, after[name])
				}
				if alive(old) {
					t.Errorf("%s: old pid %d still alive", name, old)
				}
				if info, _ := h.e.Info(name); info.State != Running || info.Rolling {
					t.Errorf("%s after the roll: %v rolling=%v", name, info.State, info.Rolling)
				}
			}
			if minRunning < 4 || maxPeers > surge || maxPeers == 0 {
				t.Errorf("during the roll: at least %d RUNNING (want 4), at most %d peers (want 1..%d)", minRunning, maxPeers, surge)
			}
			if len(steps) != 4 || steps[3].Done != 4 || steps[3].Total != 4 {
				t.Fatalf("steps: %v", steps)
			}
			for _, st := range steps {
				if st.OldPid != before[st.Name] || st.NewPid != after[st.Name] || st.InPlace {
					t.Errorf("step %v: pids before %d after %d", st, before[st.Name], after[st.Name])
				}
				want := fmt.Sprintf("%s new pid %d running, old pid %d stopped", st.Name, st.NewPid, st.OldPid)
				if !strings.HasPrefix(st.String(), want) {
					t.Errorf("step %q, want prefix %q", st, want)
				}
			}
			h.sync()
			if n := len(h.states("web:web_00")) + len(h.states("web:web_03")); n != events {
				t.Errorf("the roll published state changes: %v %v", h.states("web:web_00"), h.states("web:web_03"))
			}
			info, _ := h.e.Info("web:web_01")
			log := h.waitFile(info.StdoutLogfile, fmt.Sprintf("run %d", after["web:web_01"]), 0)
			if !strings.Contains(log, fmt.Sprintf("run %d\n", before["web:web_01"])) {
				t.Errorf("log %s lacks the old run's line: %q", info.StdoutLogfile, log)
			}
			if info.Restarts != 1 {
				t.Errorf("restarts = %d, want 1", info.Restarts)
			}
		})
	}
}

// TestRollStopsOldOnlyOnceNewIsReady: with a ready option the old run gets
// its stop signal only after its replacement reported ready; each run
// appends to one file, in the order things happen.
func TestRollStopsOldOnlyOnceNewIsReady(t *testing.T) {
	h := newHarness(t)
	order := h.file("order")
	script := fmt.Sprintf(`trap 'echo term $$ >> %[1]s; kill $!; exit 0' TERM
sleep 0.3; echo ready $$ >> %[1]s; echo listening
sleep 1000 & wait`, order)
	specs := h.pool(3, sh(script)...)
	for i := range specs {
		specs[i].Ready = &ReadySpec{Log: "listening", Timeout: 10 * time.Second}
		specs[i].StartSecs = 0
		// The shell's sleep goes with it even when the TERM comes
		// before $! is set.
		specs[i].StopAsGroup, specs[i].KillAsGroup = true, true
	}
	h.update(specs...)
	for i := range 3 {
		h.waitState(fmt.Sprintf("web:web_%02d", i), Running, 0)
	}
	before := h.pids()
	var steps []RollStep
	if err := h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxSurge: 1,
		Progress: func(st RollStep) { steps = append(steps, st) }}); err != nil {
		t.Fatalf("Roll: %v", err)
	}
	lines := strings.Split(readFile(t, order), "\n")
	for _, st := range steps {
		ready := slices.Index(lines, fmt.Sprintf("ready %d", st.NewPid))
		term := slices.Index(lines, fmt.Sprintf("term %d", st.OldPid))
		if ready < 0 || term < 0 || term < ready || !st.Ready || st.OldPid != before[st.Name] {
			t.Errorf("%v: ready at line %d, old stopped at line %d\n%s", st, ready, term, strings.Join(lines, "\n"))
		}
		if !strings.Contains(st.String(), "ready, old pid") {
			t.Errorf("step text %q", st)
		}
	}
	info, _ := h.e.Info("web:web_00")
	if !info.Ready {
		t.Errorf("Info after the roll: not ready")
	}
}

// TestRollBrokenVersionKeepsOldRuns: a replacement that exits at once, or
// never becomes ready, stops the roll at the first instance: every old run
// keeps its pid and RUNNING, nothing is left of the replacement, and the
// error names the instance and the reason.
func TestRollBrokenVersionKeepsOldRuns(t *testing.T) {
	cases := []struct {
		name   string
		broken string // the script once the flag file exists
		ready  bool
		reason string
	}{
		{"exits at once", "echo broken >&2; exit 3", false, "exited too quickly (exit status 3)"},
		{"never ready", "exec sleep 1000", true, "was not ready after 0.5s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			flag := h.file("broken")
			script := fmt.Sprintf("if [ -f %s ]; then %s; fi; echo listening; exec sleep 1000", flag, c.broken)
			specs := h.pool(4, sh(script)...)
			for i := range specs {
				if c.ready {
					specs[i].Ready = &ReadySpec{Log: "listening", Timeout: 500 * time.Millisecond}
				}
			}
			h.update(specs...)
			for i := range 4 {
				h.waitState(fmt.Sprintf("web:web_%02d", i), Running, 0)
			}
			before := h.pids()
			h.sync()
			events := len(h.all())
			writeFile(t, flag, "", 0o644)

			s := h.sample()
			err := h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxSurge: 1})
			minRunning, _ := s.end()
			var re *RollError
			if !errors.As(err, &re) || re.Name != "web:web_00" || !strings.Contains(re.Reason, c.reason) || re.Done != 0 {
				t.Fatalf("Roll = %v, want a RollError at web:web_00 with %q", err, c.reason)
			}
			if !strings.Contains(err.Error(), "web:web_00") || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error text %q", err)
			}
			if after := h.pids(); !equalMaps(before, after) {
				t.Errorf("pids before %v, after %v", before, after)
			}
			for name, pid := range before {
				info, _ := h.e.Info(name)
				if !alive(pid) || info.State != Running || info.Rolling {
					t.Errorf("%s: pid %d alive=%v state %v rolling=%v", name, pid, alive(pid), info.State, info.Rolling)
				}
			}
			if minRunning < 4 || h.peers() != 0 {
				t.Errorf("at least %d RUNNING during the roll (want 4), %d peers left", minRunning, h.peers())
			}
			h.sync()
			for _, ev := range h.all()[events:] {
				if ev.Type == EventProcessState {
					t.Errorf("the failed roll published %s for %s", ev.Name(), ev.Process)
				}
			}
		})
	}
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRollMaxSurgeRunsReplacementsTogether: with max_surge 2, two
// replacements start together and a third waits; Info shows the roll.
func TestRollMaxSurgeRunsReplacementsTogether(t *testing.T) {
	h := newHarness(t)
	gate := h.file("go")
	specs := h.pool(4, "sleep", "1000")
	h.update(specs...)
	for i := range 4 {
		h.waitState(fmt.Sprintf("web:web_%02d", i), Running, 0)
	}
	// Replacements are ready only once the test opens the gate.
	h.e.mu.Lock()
	for _, p := range h.e.procs {
		p.spec.Ready = &ReadySpec{Exec: "test -f " + gate, Period: 20 * time.Millisecond, Timeout: 30 * time.Second}
	}
	h.e.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxSurge: 2}) }()
	h.waitFor("two replacements", 5*time.Second, func() bool { return h.peers() == 2 })
	info, _ := h.e.Info("web:web_02")
	if !info.Rolling || !strings.HasSuffix(info.Description(), ", rolling (0/4)") || info.State != Running {
		t.Errorf("during the roll: %v %q", info.State, info.Description())
	}
	if n := h.peers(); n != 2 {
		t.Errorf("%d peers while two replacements wait", n)
	}
	if err := h.e.Roll(context.Background(), ParseTarget("web:web_03"), RollOptions{MaxSurge: 1}); err == nil ||
		!strings.Contains(err.Error(), "already in progress") {
		t.Errorf("a second roll of a rolled name: %v", err)
	}
	writeFile(t, gate, "", 0o644)
	if err := <-done; err != nil {
		t.Fatalf("Roll: %v", err)
	}
}

// TestRollMaxUnavailableRollsInPlace: with max_surge 0 and max_unavailable
// 1 each instance is stopped then started, never more than one down.
func TestRollMaxUnavailableRollsInPlace(t *testing.T) {
	h := newHarness(t)
	h.update(h.pool(3, "sleep", "1000")...)
	for i := range 3 {
		h.waitState(fmt.Sprintf("web:web_%02d", i), Running, 0)
	}
	before := h.pids()
	var steps []RollStep
	s := h.sample()
	err := h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxUnavailable: 1,
		Progress: func(st RollStep) { steps = append(steps, st) }})
	minRunning, maxPeers := s.end()
	if err != nil {
		t.Fatalf("Roll: %v", err)
	}
	if minRunning != 2 || maxPeers != 0 {
		t.Errorf("at least %d RUNNING (want 2), %d peers (want 0)", minRunning, maxPeers)
	}
	for _, st := range steps {
		if !st.InPlace || st.OldPid != before[st.Name] || st.NewPid == st.OldPid || st.NewPid == 0 {
			t.Errorf("step %v", st)
		}
	}
}

// TestRollRestartsInstancesNotRunningFirst: a stopped instance is started
// before any serving instance is touched.
func TestRollRestartsInstancesNotRunningFirst(t *testing.T) {
	h := newHarness(t)
	specs := h.pool(3, "sleep", "1000")
	specs[2].AutoStart = false
	h.update(specs...)
	h.waitState("web:web_00", Running, 0)
	h.waitState("web:web_01", Running, 0)
	var steps []RollStep
	if err := h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxSurge: 1,
		Progress: func(st RollStep) { steps = append(steps, st) }}); err != nil {
		t.Fatalf("Roll: %v", err)
	}
	if len(steps) != 3 || steps[0].Name != "web:web_02" || steps[0].OldPid != 0 || steps[0].Was != Stopped {
		t.Fatalf("steps %v", steps)
	}
	if !strings.HasPrefix(steps[0].String(), "web:web_02 was STOPPED, started: new pid ") {
		t.Errorf("step text %q", steps[0])
	}
	if info, _ := h.e.Info("web:web_02"); info.State != Running {
		t.Errorf("web_02 is %v", info.State)
	}
}

// TestRollStopAndShutdownTakeTheReplacement: a stop of the instance during
// its surge stops the replacement too, the roll fails saying so; a
// shutdown during a roll leaves no replacement alive.
func TestRollStopAndShutdownTakeTheReplacement(t *testing.T) {
	for _, how := range []string{"stop", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			s := h.spec("api", "sleep", "1000")
			h.update(s)
			h.waitState("api", Running, 0)
			h.e.mu.Lock()
			h.e.procs["api"].spec.Ready = &ReadySpec{Exec: "false", Period: 20 * time.Millisecond, Timeout: 30 * time.Second}
			h.e.mu.Unlock()
			done := make(chan error, 1)
			go func() { done <- h.e.Roll(context.Background(), ParseTarget("api"), RollOptions{MaxSurge: 1}) }()
			var newPid int
			h.waitFor("the replacement", 5*time.Second, func() bool {
				h.e.mu.Lock()
				defer h.e.mu.Unlock()
				if p := h.e.procs["api"].peer; p != nil {
					newPid = p.pid
				}
				return newPid != 0
			})
			if how == "stop" {
				if err := h.e.StopProcess(context.Background(), "api", true); err != nil {
					t.Fatal(err)
				}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				h.e.Shutdown(ctx)
			}
			err := <-done
			if err == nil || !strings.Contains(err.Error(), "roll stopped at api: the replacement was stopped") {
				t.Errorf("Roll = %v", err)
			}
			h.waitFor("the replacement to be gone", 5*time.Second, func() bool { return !alive(newPid) })
			if h.peers() != 0 {
				t.Errorf("peers left")
			}
		})
	}
}

// TestRollRefusesBadOptions: both limits 0, an unknown name.
func TestRollRefusesBadOptions(t *testing.T) {
	h := newHarness(t)
	h.update(h.spec("api", "sleep", "1000"))
	if err := h.e.Roll(context.Background(), ParseTarget("api"), RollOptions{}); FaultOf(err) != FaultBadArguments {
		t.Errorf("no surge nor unavailable: %v", err)
	}
	if err := h.e.Roll(context.Background(), ParseTarget("nope"), RollOptions{MaxSurge: 1}); FaultOf(err) != FaultBadName {
		t.Errorf("unknown name: %v", err)
	}
}

// TestRollStateFileListsBothRuns: during a surge the state file lists the
// replacement after the instance, so a later engine stops it.
func TestRollStateFileListsBothRuns(t *testing.T) {
	path := t.TempDir() + "/state.json"
	h := newHarness(t, Config{StateFile: path})
	h.update(h.spec("api", "sleep", "1000"))
	old := h.waitState("api", Running, 0).Pid
	h.e.mu.Lock()
	h.e.procs["api"].spec.Ready = &ReadySpec{Exec: "false", Period: 20 * time.Millisecond, Timeout: 30 * time.Second}
	h.e.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.e.Roll(ctx, ParseTarget("api"), RollOptions{MaxSurge: 1}) }()
	h.waitFor("both runs in the state file", 5*time.Second, func() bool {
		st, err := readStateFile(path)
		return err == nil && len(st.Processes) == 2 && st.Processes[0].Pid == old && st.Processes[1].Name == "api"
	})
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("Roll after cancel = %v", err)
	}
	if info, _ := h.e.Info("api"); info.Pid != old || info.State != Running {
		t.Errorf("after an interrupted roll: %v pid %d (old %d)", info.State, info.Pid, old)
	}
	_ = os.Remove(path)
}

// TestRollStopsWhenTheNewRunDiesAfterTakingOver: a replacement that
// passes its check and then dies stops the roll at that instance: the
// other instances keep their old runs.
func TestRollStopsWhenTheNewRunDiesAfterTakingOver(t *testing.T) {
	h := newHarness(t)
	flag, termed, died := h.file("broken"), h.file("termed"), h.file("died")
	// The broken run dies once its old run got its stop signal, and the
	// old run stops only once tend has reaped the broken one.
	script := fmt.Sprintf(`if [ -f %[1]s ]; then until [ -f %[2]s ]; do sleep 0.02; done; echo $$ > %[3]s; exit 3; fi
trap 'touch %[2]s; until [ -s %[3]s ] && ! kill -0 $(cat %[3]s) 2>/dev/null; do sleep 0.02; done; kill $!; exit 0' TERM
touch %[4]s.$$; sleep 1000 & wait`, flag, termed, died, h.file("trapped"))
	specs := h.pool(2, sh(script)...)
	for i := range specs {
		specs[i].StartSecs = 0
		specs[i].Ready = &ReadySpec{Exec: "true", Timeout: 10 * time.Second}
		specs[i].StopAsGroup, specs[i].KillAsGroup = true, true
	}
	h.update(specs...)
	h.waitState("web:web_00", Running, 0)
	h.waitState("web:web_01", Running, 0)
	before := h.pids()
	for _, pid := range before {
		h.waitFile(fmt.Sprintf("%s.%d", h.file("trapped"), pid), "", 0)
	}
	writeFile(t, flag, "", 0o644)
	err := h.e.Roll(context.Background(), ParseTarget("web:*"), RollOptions{MaxSurge: 1})
	var re *RollError
	if !errors.As(err, &re) || re.Name != "web:web_00" ||
		!strings.Contains(re.Reason, ", then exited (exit status 3)") {
		t.Fatalf("Roll = %v", err)
	}
	t.Logf("reason: %s", re.Reason)
	if pid := h.pids()["web:web_01"]; pid != before["web:web_01"] || !alive(pid) {
		t.Errorf("web_01: pid %d, was %d", pid, before["web:web_01"])
	}
	os.Remove(flag)
}

// TestRollSkipsEventListeners: "all" rolls every process but the
// eventlisteners; naming a listener is refused.
func TestRollSkipsEventListeners(t *testing.T) {
	h := newHarness(t)
	h.update(h.spec("api", "sleep", "1000"), h.listenerSpec(h.file("events"), "ok", 10, "PROCESS_STATE"))
	h.waitState("api", Running, 0)
	ev := h.waitState("ev", Running, 0).Pid
	var steps []RollStep
	if err := h.e.Roll(context.Background(), AllTarget, RollOptions{MaxSurge: 1,
		Progress: func(s RollStep) { steps = append(steps, s) }}); err != nil || len(steps) != 1 || steps[0].Name != "api" {
		t.Errorf("Roll all = %v, steps %v", err, steps)
	}
	if info, _ := h.e.Info("ev"); info.Pid != ev {
		t.Errorf("the listener was restarted: pid %d, was %d", info.Pid, ev)
	}
	if err := h.e.Roll(context.Background(), ParseTarget("ev"), RollOptions{MaxSurge: 1}); err == nil ||
		!strings.Contains(err.Error(), "an eventlistener cannot be rolled") {
		t.Errorf("Roll of a listener = %v", err)
	}
}

// TestRollAdoptedProcess: a process adopted from a previous tend rolls
// like any other: its exit, seen on its pidfd, ends the step.
func TestRollAdoptedProcess(t *testing.T) {
	prev := crashedInstance(t)
	h := newHarness(t, Config{StateFile: prev.state, Orphans: OrphansAdopt})
	specs := prevSpecs(h.dir)[:1] // plain
	if _, err := h.e.Recover(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	h.update(specs...)
	old := prev.pids["plain"]
	if i, _ := h.e.Info("plain"); !i.Adopted || i.Pid != old {
		t.Fatalf("plain not adopted: %+v", i)
	}
	if err := h.e.Roll(context.Background(), ParseTarget("plain"), RollOptions{MaxSurge: 1}); err != nil {
		t.Fatalf("Roll: %v", err)
	}
	i, _ := h.e.Info("plain")
	if i.Adopted || i.Pid == old || i.State != Running || i.StdoutLogfile == "" {
		t.Errorf("after the roll: %+v", i)
	}
	h.waitFor("the adopted run to be gone", 5*time.Second, func() bool { return !alive(old) })
}
