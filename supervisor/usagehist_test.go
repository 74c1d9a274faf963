package supervisor

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// The ring keeps the last UsageHistoryPoints points, oldest first, and
// never more, however many it is given.
func TestUsageRingWrapsAround(t *testing.T) {
	for _, n := range []int{0, 1, UsageHistoryPoints - 1, UsageHistoryPoints, UsageHistoryPoints + 1, 3*UsageHistoryPoints + 7} {
		clock := testkit.NewFakeClock()
		start := clock.Now()
		var r usageRing
		for k := range n {
			clock.Advance(UsageStep)
			if !r.record(clock.Now(), 42, start, float64(k), int64(k)<<20) {
				t.Fatalf("n=%d: point %d refused", n, k)
			}
		}
		pts := r.since(time.Time{})
		if want := min(n, UsageHistoryPoints); len(pts) != want {
			t.Fatalf("n=%d: %d points, want %d", n, len(pts), want)
		}
		for k, p := range pts {
			// Point k of what is left is sample n-len+k, taken at
			// start + (n-len+k+1) steps.
			sample := n - len(pts) + k
			if want := start.Add(time.Duration(sample+1) * UsageStep); !p.Time.Equal(want) {
				t.Fatalf("n=%d: point %d at %v, want %v", n, k, p.Time, want)
			}
			if p.RSS != int64(sample)<<20 {
				t.Fatalf("n=%d: point %d RSS %d, want %d", n, k, p.RSS, int64(sample)<<20)
			}
		}
		if n > 1 {
			// One CPU second per 5 s step is 20 %.
			if got := pts[len(pts)-1].CPUPercent; got < 19.99 || got > 20.01 {
				t.Errorf("n=%d: CPU %.3f%%, want 20%%", n, got)
			}
		}
	}
}

// Samples closer together than a step make one point per step-aligned
// slot; since returns only the points after its time.
func TestUsageRingOnePointPerStep(t *testing.T) {
	clock := testkit.NewFakeClock() // 03:04:05, exactly on a 5 s slot
	start := clock.Now()
	var r usageRing
	added := 0
	for range 60 { // one a second for a minute
		if r.record(clock.Now(), 1, start, 0, 1<<20) {
			added++
		}
		clock.Advance(time.Second)
	}
	if added != 12 || len(r.since(time.Time{})) != 12 {
		t.Fatalf("%d points added, %d held, want 12 for 60 s at a 5 s step", added, len(r.since(time.Time{})))
	}
	pts := r.since(start.Add(50 * time.Second))
	if len(pts) != 1 || !pts[0].Time.Equal(start.Add(55*time.Second)) {
		t.Fatalf("since +50 s: %+v, want the one point at +55 s", pts)
	}
	if got := r.since(start.Add(55 * time.Second)); len(got) != 0 {
		t.Fatalf("since the newest point: %+v, want none", got)
	}
}

// CPU % is measured from the previous point of the same run; a new run
// (another pid, or the same pid started after the previous point) is
// measured from its start.
func TestUsageRingCPUPerRun(t *testing.T) {
	clock := testkit.NewFakeClock()
	t0 := clock.Now()
	var r usageRing
	r.record(t0.Add(10*time.Second), 7, t0, 5, 0)  // 5 s over 10 s since start
	r.record(t0.Add(20*time.Second), 7, t0, 15, 0) // 10 s more over 10 s
	r.record(t0.Add(30*time.Second), 8, t0.Add(28*time.Second), 1, 0)
	r.record(t0.Add(40*time.Second), 8, t0.Add(39*time.Second), 0.5, 0) // pid 8 again, a new run
	var got []float64
	for _, p := range r.since(time.Time{}) {
		got = append(got, p.CPUPercent)
	}
	want := []float64{50, 100, 50, 50}
	if len(got) != len(want) {
		t.Fatalf("CPU %v, want %v", got, want)
	}
	for k := range want {
		if got[k] < want[k]-0.01 || got[k] > want[k]+0.01 {
			t.Fatalf("CPU %v, want %v", got, want)
		}
	}
}

// Recording a point allocates nothing: the ring is a fixed array.
func TestUsageRingRecordDoesNotAllocate(t *testing.T) {
	var r usageRing
	at := time.Unix(1_000_000, 0)
	allocs := testing.AllocsPerRun(1000, func() {
		at = at.Add(UsageStep)
		r.record(at, 1, time.Time{}, 1, 1<<20)
	})
	if allocs != 0 {
		t.Fatalf("record allocates %.1f times per point", allocs)
	}
}

// The engine records a point for each process a Usage call samples, one
// per step whatever the callers' pace, none for a process never sampled,
// and forgets the history of a process removed by an update.
func TestUsageHistoryEngine(t *testing.T) {
	h := newFakeHarness(t)
	a, b := h.spec("a", "sleep", "1000"), h.spec("b", "sleep", "1000")
	a.StartSecs, b.StartSecs = 0, 0
	h.update(a, b)
	h.waitState("a", Running, 0)
	h.waitState("b", Running, 0)
	ia, _ := h.e.Info("a")
	if got := h.e.UsageHistory([]Info{ia}, time.Time{}); got[0] != nil {
		t.Fatalf("history %+v before anything sampled", got[0])
	}
	for range 20 { // two samplers, every 1.25 s for 25 s: slots 0 to 4
		h.e.Usage([]Info{ia})
		h.e.Usage([]Info{ia})
		h.clock.Advance(1250 * time.Millisecond)
	}
	infos := h.e.Status()
	hist := h.e.UsageHistory(infos, time.Time{})
	if len(hist[0]) != 5 {
		t.Fatalf("a has %d points for 25 s of samples at a 5 s step, want 5: %+v", len(hist[0]), hist[0])
	}
	for _, p := range hist[0] {
		if p.RSS <= 0 || p.RSS > 64<<20 {
			t.Errorf("a sleeper's point has RSS %d", p.RSS)
		}
	}
	if hist[1] != nil {
		t.Errorf("b was never sampled but has history %+v", hist[1])
	}
	h.update(b)
	if got := h.e.UsageHistory([]Info{ia}, time.Time{}); got[0] != nil {
		t.Fatalf("a removed but its history is kept: %+v", got[0])
	}
}

// A process with max_memory is sampled by its limit's watch, which feeds
// its history with nobody calling Usage.
func TestUsageHistoryFedByMaxMemory(t *testing.T) {
	h := newFakeHarness(t)
	s := h.spec("capped", "sleep", "1000")
	s.StartSecs, s.MaxMemory, s.MaxMemoryFor = 0, 1<<30, 20*time.Second // a sample every 5 s
	h.update(s)
	h.waitState("capped", Running, 0)
	i, _ := h.e.Info("capped")
	h.waitFor("sleep to be exec'd and resident", 10*time.Second, func() bool {
		rss, _ := treeSample(i.Pid)
		return rss > 0
	})
	for k := 1; k <= 3; k++ {
		h.clock.WaitPending(t, 1)
		h.clock.Advance(5 * time.Second)
		h.waitFor("the watch's sample", 10*time.Second, func() bool {
			return len(h.e.UsageHistory([]Info{i}, time.Time{})[0]) == k
		})
	}
	for _, p := range h.e.UsageHistory([]Info{i}, time.Time{})[0] {
		if p.RSS <= 0 {
			t.Errorf("point without RSS: %+v", p)
		}
	}
}

// SampleHistory records a point for each running process from its own
// tree and answers the newest one; a process that is not running gets
// none.
func TestSampleHistory(t *testing.T) {
	h := newFakeHarness(t)
	a, off := h.spec("a", "sleep", "1000"), h.spec("off", "sleep", "1000")
	a.StartSecs, off.AutoStart = 0, false
	h.update(a, off)
	h.waitState("a", Running, 0)
	infos := h.e.Status() // a, off
	h.waitFor("sleep to be exec'd and resident", 10*time.Second, func() bool {
		rss, _ := treeSample(infos[0].Pid)
		return rss > 0
	})
	first := h.e.SampleHistory(infos)
	if first[0].RSS <= 0 || !first[0].Time.Equal(h.clock.Now()) || first[1] != (UsagePoint{}) {
		t.Fatalf("first sample %+v, want a point for a at now and none for off", first)
	}
	if again := h.e.SampleHistory(infos); again[0] != first[0] {
		t.Fatalf("a second sample in the same step answered %+v, want the step's point %+v", again[0], first[0])
	}
	h.clock.Advance(UsageStep)
	next := h.e.SampleHistory(infos)
	if !next[0].Time.Equal(first[0].Time.Add(UsageStep)) {
		t.Fatalf("a step later: %+v", next[0])
	}
	hist := h.e.UsageHistory(infos, time.Time{})
	if len(hist[0]) != 2 || hist[0][1] != next[0] || hist[1] != nil {
		t.Fatalf("history %+v, want a's two points and nothing for off", hist)
	}
}

// treeSample finds a child forked by a thread other than the main one
// (listed only in that thread's children file) as well as the children of
// a single-threaded process.
func TestTreeSampleThreads(t *testing.T) {
	py := testkit.RequireTool(t, "python3")
	dir := t.TempDir()
	for _, tt := range []struct {
		name, script string
	}{
		{"single thread", `import subprocess, time, sys
subprocess.Popen(["sleep", "1000"]); print("up", flush=True); time.sleep(1000)`},
		{"from a second thread", `import subprocess, threading, time
def f():
    subprocess.Popen(["sleep", "1000"]); print("up", flush=True); time.sleep(1000)
threading.Thread(target=f, daemon=True).start(); time.sleep(1000)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(py, "-c", tt.script)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Dir = dir
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
			if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			var kids []string
			testkit.WaitFor(t, "the sleep child", testkit.DefaultWait, func() bool {
				b, _ := exec.Command("pgrep", "-P", strconv.Itoa(cmd.Process.Pid)).Output()
				kids = strings.Fields(string(b))
				return len(kids) == 1
			})
			child, _ := strconv.Atoi(kids[0])
			testkit.WaitFor(t, "the tree's memory to include the child", testkit.DefaultWait, func() bool {
				own, _ := readProcEntry(cmd.Process.Pid)
				kid, _ := readProcEntry(child)
				rss, _ := treeSample(cmd.Process.Pid)
				page := int64(os.Getpagesize())
				return kid.rssPg > 0 && rss >= (own.rssPg+kid.rssPg)*page
			})
		})
	}
}
