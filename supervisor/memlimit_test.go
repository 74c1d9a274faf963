package supervisor

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// max_memory restarts a process whose tree (here a grandchild holding 64
// MiB) stays above the limit for max_memory_for, and leaves alone one
// that stays below it. The engine's clock paces the samples, so the test
// advances it step by step once the memory is really held.
func TestMaxMemory(t *testing.T) {
	testkit.RequireTool(t, "perl")
	for _, tt := range []struct {
		name    string
		limit   int64
		restart bool
	}{{"above", 32 << 20, true}, {"below", 256 << 20, false}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHarness(t)
			script := h.file("alloc.pl")
			if err := os.WriteFile(script, []byte(`my $x = "a" x (64*1048576); sleep 1000;`), 0o644); err != nil {
				t.Fatal(err)
			}
			s := h.spec("hog", sh(`sh -c "perl `+script+`; :" & wait`)...)
			s.StartSecs, s.StopAsGroup, s.KillAsGroup = 0, true, true
			s.MaxMemory, s.MaxMemoryFor = tt.limit, time.Second
			h.update(s)
			first := h.waitState("hog", Running, 0)
			h.waitFor("the grandchild to hold 64 MiB", 10*time.Second, func() bool {
				return h.usageOf("hog").RSS >= 64<<20
			})
			// Samples every 250 ms: above at 0.25 s, still above at 1.25 s.
			for range 4 {
				h.clock.Advance(250 * time.Millisecond)
			}
			if st := h.lastState("hog"); st != Running {
				t.Fatalf("%s before max_memory_for had passed", st)
			}
			h.clock.Advance(250 * time.Millisecond)
			if !tt.restart {
				for range 8 {
					h.clock.Advance(250 * time.Millisecond)
				}
				if i, _ := h.e.Info("hog"); i.State != Running || i.Pid != first.Pid || i.MemoryRestarts != 0 {
					t.Fatalf("a process below max_memory was touched: %+v", i)
				}
				return
			}
			h.waitSeq("hog", 0, Running, Stopping, Stopped, Starting, Running)
			i, _ := h.e.Info("hog")
			if i.Pid == first.Pid || i.MemoryRestarts != 1 || i.Restarts != 1 {
				t.Errorf("after the restart: pid %d (was %d), memory restarts %d, restarts %d", i.Pid, first.Pid, i.MemoryRestarts, i.Restarts)
			}
			// 64 MiB held, or up to ~130 MiB while perl copies its temporary.
			if !regexp.MustCompile(`^max_memory: the process tree used (6\d|7\d|8\d|9\d|1[0-3]\d)\.\dMiB, above 32\.0MiB for 1s$`).MatchString(i.LimitReason) {
				t.Errorf("reason %q", i.LimitReason)
			}
		})
	}
}
