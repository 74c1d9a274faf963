package supervisor

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// usageOf samples the one process name.
func (h *harness) usageOf(name string) Usage {
	h.t.Helper()
	i, err := h.e.Info(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.e.Usage([]Info{i})[0]
}

// A grandchild that allocates 64 MiB is counted in its grandparent's tree,
// with its thread and its descriptors; the figures go when it is stopped.
func TestUsageCountsTheTree(t *testing.T) {
	testkit.RequireTool(t, "perl")
	h := newHarness(t)
	const mib = 1 << 20
	// sh -> sh -> perl: perl is a grandchild of the supervised process.
	script := h.file("alloc.pl")
	if err := os.WriteFile(script, []byte(`my $x = "a"; $x x= 64*1048576; sleep 1000;`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := h.spec("mem", sh(`sh -c "perl `+script+`; :" & wait`)...)
	s.StartSecs, s.StopAsGroup, s.KillAsGroup = 0, true, true
	h.update(s)
	h.waitState("mem", Running, 0)
	var u Usage
	// `$x x= n` grows $x in place: perl's `$x = "a" x n` builds a
	// temporary and may keep it, holding 128 MiB for good.
	h.waitFor("the tree to hold 3 processes and about 64 MiB", 20*time.Second, func() bool {
		u = h.usageOf("mem")
		return u.Procs == 3 && u.RSS >= 64*mib && u.RSS <= 96*mib
	})
	if u.Threads < 3 || u.FDs < 3 {
		t.Errorf("threads %d fds %d, want at least 3 of each: %+v", u.Threads, u.FDs, u)
	}
	if err := h.e.StopProcess(context.Background(), "mem", true); err != nil {
		t.Fatal(err)
	}
	h.waitState("mem", Stopped, 0)
	if u := h.usageOf("mem"); u != (Usage{}) {
		t.Errorf("a stopped process has usage %+v", u)
	}
}

// A child burning CPU shows CPU seconds that grow and a CPU % near one
// core between two samples; an idle sleeper shows neither.
func TestUsageCPU(t *testing.T) {
	h := newHarness(t)
	burn := h.spec("burn", sh("while :; do :; done")...)
	idle := h.spec("idle", "sleep", "1000")
	burn.StartSecs, idle.StartSecs = 0, 0
	h.update(burn, idle)
	h.waitState("burn", Running, 0)
	h.waitState("idle", Running, 0)
	h.waitFor("burn to use 0.3 s of CPU", 20*time.Second, func() bool {
		return h.usageOf("burn").CPUSeconds >= 0.3
	})
	infos := h.e.Status()
	h.e.Usage(infos) // the mark the next sample measures from
	var us []Usage
	h.waitFor("a second sample 200 ms later", 10*time.Second, func() bool {
		time.Sleep(20 * time.Millisecond)
		us = h.e.Usage(infos)
		return us[0].CPUSeconds > 0 && time.Since(infos[0].Now) > 200*time.Millisecond
	})
	byName := map[string]Usage{}
	for n, i := range infos {
		byName[i.Name] = us[n]
	}
	if b := byName["burn"]; b.CPUPercent < 10 || b.CPUPercent > 250 {
		t.Errorf("burn at %.1f%% CPU, want about one core: %+v", b.CPUPercent, b)
	}
	if i := byName["idle"]; i.CPUPercent > 5 || i.CPUSeconds > 0.1 {
		t.Errorf("idle sleeper at %.1f%% CPU, %.2f s: %+v", i.CPUPercent, i.CPUSeconds, i)
	}
}

// CPU % is measured from the newest mark at least a second old, so two
// viewers sampling a few milliseconds apart both get a figure over a
// useful interval; a mark of an earlier run (pid reuse) is never used.
func TestUsageBaseline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var m usageMarks
	type step struct {
		now       int     // ms since t0 of this sample
		cpu       float64 // CPU seconds it reads
		wantSince int     // ms since t0 of the baseline
	}
	for i, st := range []step{
		{100, 0.1, 0},     // first sample: since the start
		{150, 0.15, 100},  // 50 ms later, no older mark: the only one
		{2000, 2.0, 150},  // the newer mark is old enough
		{2050, 2.05, 150}, // another viewer 50 ms later: the older mark
		{4000, 4.0, 2050}, // the newer is old enough again
	} {
		since, base := m.baseline(at(st.now), t0)
		if !since.Equal(at(st.wantSince)) {
			t.Errorf("step %d: measured from %v, want %v", i, since.Sub(t0), at(st.wantSince).Sub(t0))
		}
		if st.wantSince == 0 && base != 0 {
			t.Errorf("step %d: base %v from the start, want 0", i, base)
		}
		m = m.add(at(st.now), st.cpu)
	}
	if since, _ := m.baseline(at(5000), at(4500)); !since.Equal(at(4500)) {
		t.Errorf("a new run started after every mark is measured from %v, want its start", since.Sub(t0))
	}
}
