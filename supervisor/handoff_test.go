package supervisor

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// zombie reports whether pid has exited and not been reaped.
func zombie(pid int) bool {
	st, err := readProcStat(pid)
	return err == nil && st.State == 'Z'
}

// A frozen engine reads no output and reaps nothing: what the child writes
// stays in its pipe and its exit stays a zombie, with its status, until
// Thaw (or a new binary) takes over.
func TestFreezeHoldsOutputAndExitsUntilThaw(t *testing.T) {
	h := newHarness(t)
	trigger := h.file("trigger")
	s := h.spec("w", sh(`echo before; while [ ! -e `+trigger+` ]; do sleep 0.02; done; echo during; exit 7`)...)
	s.StartSecs, s.AutoRestart = 0, RestartNever
	s.Stdout.Path = h.file("w.log")
	h.update(s)
	h.waitState("w", Running, 5*time.Second)
	h.waitFile(s.Stdout.Path, "before\n", 5*time.Second)
	pid := h.waitState("w", Running, time.Second).Pid

	f, err := h.e.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	st := f.State()
	if len(st.Processes) != 1 || st.Processes[0].Pid != pid || st.Processes[0].State != Running ||
		st.Processes[0].Stdout < 0 || !slices.Contains(f.Fds(), st.Processes[0].Stdout) {
		f.Thaw()
		t.Fatalf("handoff %+v, fds %v: want w RUNNING as pid %d with its stdout pipe", st.Processes, f.Fds(), pid)
	}
	writeFile(t, trigger, "", 0o644)
	h.waitFor("w exited, unreaped", 5*time.Second, func() bool { return zombie(pid) })
	if got := readFile(t, s.Stdout.Path); got != "before\n" {
		f.Thaw()
		t.Fatalf("the frozen engine read output: log %q", got)
	}
	f.Thaw()
	h.waitFile(s.Stdout.Path, "during\n", 5*time.Second)
	if i := h.waitState("w", Exited, 5*time.Second); i.ExitStatus != 7 {
		t.Errorf("exit status %d, want the true 7", i.ExitStatus)
	}
}

// Freeze refuses what a re-exec cannot carry yet, and leaves the engine
// running.
func TestFreezeRefuses(t *testing.T) {
	h := newHarness(t)
	starting := h.spec("starting", "sleep", "1000")
	starting.StartSecs = 0
	starting.Ready = &ReadySpec{TCP: "127.0.0.1:1", Timeout: time.Minute}
	for _, tt := range []struct {
		spec Spec
		want State
		err  string
	}{
		{starting, Starting, "'starting' is STARTING and not ready yet"},
	} {
		h.update(tt.spec)
		h.waitState(tt.spec.Name, tt.want, 5*time.Second)
		f, err := h.e.Freeze()
		if err == nil {
			f.Thaw()
			t.Fatalf("%s: Freeze succeeded", tt.spec.Name)
		}
		if !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want %q", tt.spec.Name, err, tt.err)
		}
		if _, err := h.e.Stop(t.Context(), ParseTarget(tt.spec.Name), true); err != nil {
			t.Fatalf("the engine after a refused freeze: %v", err)
		}
	}
}

// An engine resumes what another froze, as the new binary of a re-exec
// does (here both live in one process, the frozen one left frozen): the
// same pid, state and counters, the pipe read on into the same log with
// no line lost or written twice, and a pending timer fired when due.
func TestResumeTakesOverAFrozenEngine(t *testing.T) {
	// Never thawed nor shut down: it is the old binary. Both engines run
	// on fake clocks that start at the same time, so slow's startsecs
	// passes only when the test advances the new one.
	old := New(Config{ChildLogDir: t.TempDir(), Clock: testkit.NewFakeClock()})
	h := newHarness(t, Config{Clock: testkit.NewFakeClock(), Resuming: true})
	count := h.spec("count", sh(`i=0; while :; do i=$((i+1)); echo $i; sleep 0.005; done`)...)
	count.StartSecs = 0
	count.Stdout.Path = h.file("count.log")
	slow := h.spec("slow", "sleep", "1000")
	slow.StartSecs = 2 * time.Second // still STARTING when frozen: its timer carries over
	idle := h.spec("idle", "sleep", "1000")
	idle.AutoStart = false
	specs := []Spec{count, slow, idle}
	if _, err := old.Update(t.Context(), specs); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "count writing", 5*time.Second, func() bool { b, _ := os.ReadFile(count.Stdout.Path); return len(b) > 50 })
	f, err := old.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	st := f.State()
	pids := map[string]int{}
	for _, p := range st.Processes {
		pids[p.Name] = p.Pid
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			if pid > 0 && alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL) // a failed test's leftovers
			}
		}
	})
	if err := h.e.Resume(st, specs); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]State{"count": Running, "slow": Starting, "idle": Stopped} {
		i, err := h.e.Info(name)
		if err != nil || i.State != want || i.Pid != pids[name] {
			t.Errorf("%s after resume: %+v (%v), want %s as pid %d", name, i, err, want, pids[name])
		}
	}
	h.clock.Advance(2 * time.Second)
	h.waitState("slow", Running, 5*time.Second)
	size := len(readFile(t, count.Stdout.Path))
	h.waitFor("count writing on", 5*time.Second, func() bool { return len(readFile(t, count.Stdout.Path)) > size+50 })
	done := make(chan struct{})
	go h.clock.RunUntil(done, 5*time.Millisecond) // the stop timers
	_, err = h.e.Stop(t.Context(), AllTarget, true)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, count.Stdout.Path), "\n"), "\n")
	for i, l := range lines {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("count.log line %d is %q, want %d: a line lost or written twice", i+1, l, i+1)
		}
	}
}
