package supervisor

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// Section 1 of the reference: the transition table, row by row. (The
// backoff delays are TestBackoffOnFakeClock's.)
func TestExitWithinStartsecsIsAlwaysUnexpected(t *testing.T) {
	h := newHarness(t)
	s := h.spec("zero", "/bin/true")
	s.StartSecs = time.Second
	s.StartRetries = 0
	s.AutoRestart = RestartNever
	h.update(s)
	h.waitState("zero", Fatal, 5*time.Second)
	if got, want := h.states("zero"), []State{Starting, Backoff, Fatal}; !equalStates(got, want) {
		t.Fatalf("states = %v, want %v", got, want)
	}
}

func TestStartsecsZeroRunsAtOnce(t *testing.T) {
	h := newHarness(t)
	s := h.spec("zero_s0", "/bin/true")
	s.StartSecs = 0
	s.AutoRestart = RestartNever
	h.update(s)
	h.waitState("zero_s0", Exited, 5*time.Second)
	evs := h.stateEvents("zero_s0")
	if got, want := h.states("zero_s0"), []State{Starting, Running, Exited}; !equalStates(got, want) {
		t.Fatalf("states = %v, want %v", got, want)
	}
	if !evs[2].Expected {
		t.Errorf("exit 0 after startsecs=0 should be expected")
	}
}

// Section 1b: what happens after RUNNING, per autorestart value and exit code.
func TestAutorestartAfterRunning(t *testing.T) {
	cases := []struct {
		name        string
		autorestart AutoRestart
		code        string
		restarted   bool
		expected    bool
	}{
		{"unexpected_0", RestartUnexpected, "0", false, true},
		{"unexpected_1", RestartUnexpected, "1", true, false},
		{"unexpected_2", RestartUnexpected, "2", false, true},
		{"true_0", RestartAlways, "0", true, true},
		{"true_1", RestartAlways, "1", true, false},
		{"false_0", RestartNever, "0", false, true},
		{"false_1", RestartNever, "1", false, false},
	}
	// On a fake clock nothing is delayed by a timer that the test does not
	// fire: with startsecs 0, a restart can only be immediate, inside the
	// transition to EXITED, or armed on the clock.
	h := newFakeHarness(t)
	var specs []Spec
	for _, c := range cases {
		s := h.spec(c.name, sh("sleep 0.4; exit "+c.code)...)
		s.StartSecs = 0
		s.ExitCodes = []int{0, 2}
		s.AutoRestart = c.autorestart
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, c := range cases {
		func() {
			if c.restarted {
				// RUNNING → EXITED → STARTING → RUNNING → EXITED: restarted, no backoff.
				h.waitSeq(c.name, 10*time.Second, Exited, Starting, Running, Exited)
				for _, ev := range h.stateEvents(c.name) {
					if ev.To == Backoff || ev.To == Fatal {
						t.Errorf("%s: restart after RUNNING went through %s", c.name, ev.To)
					}
				}
			} else {
				h.waitState(c.name, Exited, 10*time.Second)
				h.sync()
				if got, want := h.states(c.name), []State{Starting, Running, Exited}; !equalStates(got, want) {
					t.Errorf("%s: states = %v, want %v", c.name, got, want)
				}
				if p := h.clock.Pending(); len(p) != 0 {
					t.Errorf("%s: timers armed after EXITED: %v", c.name, p)
				}
			}
			for _, ev := range h.stateEvents(c.name) {
				if ev.To == Exited && ev.Expected != c.expected {
					t.Errorf("%s: expected = %v, want %v", c.name, ev.Expected, c.expected)
				}
			}
		}()
	}
}

func TestKilledRunningProcessRespawnsAtOnce(t *testing.T) {
	h := newHarness(t)
	s := h.spec("victim", "sleep", "1000")
	s.StartSecs = 0
	s.AutoRestart = RestartAlways
	h.update(s)
	info := h.waitState("victim", Running, 5*time.Second)
	killAt := time.Now()
	if err := h.e.SignalProcess("victim", 9); err != nil {
		t.Fatal(err)
	}
	var next Info
	h.waitEngine("a new pid", 5*time.Second, func() bool {
		next, _ = h.e.Info("victim")
		return next.Pid != 0 && next.Pid != info.Pid
	})
	t.Logf("kill -9 → new child in %s", time.Since(killAt))
	if next.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", next.Restarts)
	}
}

func TestStopBackoffIsImmediate(t *testing.T) {
	h := newFakeHarness(t)
	s := h.spec("fails", sh("exit 1")...)
	s.StartRetries = 100
	h.update(s)
	h.waitState("fails", Backoff, 5*time.Second)
	if err := h.e.StopProcess(context.Background(), "fails", true); err != nil {
		t.Fatal(err)
	}
	if i, _ := h.e.Info("fails"); i.State != Stopped {
		t.Fatalf("state %s after stopping a BACKOFF process, want STOPPED", i.State)
	}
	// No further spawn happens, however long one waits.
	if p := h.clock.Pending(); len(p) != 0 {
		t.Fatalf("timers still armed after the stop: %v", p)
	}
	h.clock.Advance(time.Hour)
	h.sync()
	if got, want := h.states("fails"), []State{Starting, Backoff, Stopped}; !equalStates(got, want) {
		t.Fatalf("states %v, want %v: the backoff timer survived the stop", got, want)
	}
}

func TestRPCFaults(t *testing.T) {
	h := newHarness(t)
	run := h.spec("run", "sleep", "1000")
	run.StartSecs = 0
	idle := h.spec("idle", "sleep", "1000")
	idle.AutoStart = false
	missing := h.spec("missing", "/nonexistent/bin")
	missing.AutoStart = false
	notexec := h.spec("notexec", h.file("notexec"))
	notexec.AutoStart = false
	writeFile(t, h.file("notexec"), "#!/bin/sh\n", 0o644)
	h.update(run, idle, missing, notexec)
	h.waitState("run", Running, 5*time.Second)
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want Fault
	}{
		{"start running", h.e.StartProcess(ctx, "run", false), FaultAlreadyStarted},
		{"start unknown", h.e.StartProcess(ctx, "nosuch", false), FaultBadName},
		{"start bare group member", h.e.StartProcess(ctx, "run:nosuch", false), FaultBadName},
		{"start missing", h.e.StartProcess(ctx, "missing", false), FaultNoFile},
		{"start notexec", h.e.StartProcess(ctx, "notexec", false), FaultNotExecutable},
		{"stop idle", h.e.StopProcess(ctx, "idle", false), FaultNotRunning},
		{"signal idle", h.e.SignalProcess("idle", 1), FaultNotRunning},
		{"stop unknown", h.e.StopProcess(ctx, "nosuch", false), FaultBadName},
	}
	for _, c := range cases {
		if got := FaultOf(c.err); got != c.want {
			t.Errorf("%s: fault %s (%v), want %s", c.name, got, c.err, c.want)
		}
	}
	if i, _ := h.e.Info("missing"); i.State != Stopped {
		t.Errorf("a start refused with NO_FILE changed the state to %s", i.State)
	}
}

func TestSpawnErrors(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.file("notexec"), "#!/bin/sh\n", 0o644)
	cases := []struct {
		name, desc string
		spec       Spec
	}{
		{"missing", "can't find command '/nonexistent/bin'", h.spec("missing", "/nonexistent/bin")},
		{"nopath", "can't find command 'no-such-program-xyz'", h.spec("nopath", "no-such-program-xyz")},
		{"notexec", "command at '" + h.file("notexec") + "' is not executable", h.spec("notexec", h.file("notexec"))},
	}
	var specs []Spec
	for _, c := range cases {
		c.spec.StartRetries = 1
		specs = append(specs, c.spec)
	}
	h.update(specs...)
	for _, c := range cases {
		info := h.waitState(c.name, Fatal, 5*time.Second)
		if got := info.Description(); got != c.desc {
			t.Errorf("%s: description %q, want %q", c.name, got, c.desc)
		}
	}
}

// A start that fails before exec says why in status and in the log, with
// supervisord's wording, naming the missing path once.
func TestSpawnErrorsNameTheCause(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(h *harness, s *Spec)
		desc  string // the FATAL description
	}{
		{"directory", func(h *harness, s *Spec) { s.Directory = "/nonexistent_dir" },
			"couldn't chdir to /nonexistent_dir: ENOENT"},
		{"stdout_folder", func(h *harness, s *Spec) { s.Stdout.Path = "/nonexistent_dir/out.log" },
			"couldn't open stdout log /nonexistent_dir/out.log: ENOENT"},
		{"stderr_folder", func(h *harness, s *Spec) { s.Stderr.Path = "/nonexistent_dir/err.log" },
			"couldn't open stderr log /nonexistent_dir/err.log: ENOENT"},
		{"childlogdir", func(h *harness, s *Spec) { s.Stdout.Path = LogAuto },
			"couldn't open stdout log in /nonexistent_dir: ENOENT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log testkit.Buffer
			h := newHarness(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil)), ChildLogDir: "/nonexistent_dir"})
			s := h.spec("bad", "sleep", "10")
			s.Stdout.Path = h.file("bad.out")
			s.Stderr.Path = h.file("bad.err")
			s.StartRetries = 0
			c.setup(h, &s)
			h.update(s)
			info := h.waitState("bad", Fatal, 5*time.Second)
			if got := info.Description(); got != c.desc {
				t.Errorf("description %q, want %q", got, c.desc)
			}
			if !strings.Contains(log.String(), "spawnerr: "+c.desc) {
				t.Errorf("log lacks %q:\n%s", "spawnerr: "+c.desc, log.String())
			}
		})
	}
}

// supervisord's forked child writes a chdir failure to the stderr log too.
func TestBadDirectoryInStderrLog(t *testing.T) {
	h := newHarness(t)
	s := h.spec("baddir", "sleep", "10")
	s.Directory = "/nonexistent_dir"
	s.StartRetries = 0
	s.Stderr.Path = h.file("baddir.err")
	h.update(s)
	h.waitState("baddir", Fatal, 5*time.Second)
	got := readFile(t, h.file("baddir.err"))
	want := "supervisor: couldn't chdir to /nonexistent_dir: ENOENT\nsupervisor: child process was not spawned\n"
	if got != want {
		t.Errorf("stderr log %q, want %q", got, want)
	}
}

// A start with wait of a process that fails gives SPAWN_ERROR. (One that
// succeeds returns once startsecs passed: TestStartsecsOnFakeClock.)
func TestStartWaitSemantics(t *testing.T) {
	h := newHarness(t)
	bad := h.spec("bad", sh("exit 1")...)
	bad.AutoStart = false
	bad.StartRetries = 0
	h.update(bad)
	ctx := context.Background()
	if err := h.e.StartProcess(ctx, "bad", true); FaultOf(err) != FaultSpawnError {
		t.Errorf("start bad: %v, want SPAWN_ERROR", err)
	}
}
