package supervisor

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Section 7 through the engine: a child's stdout with maxbytes=1KB and
// backups=3 keeps at most three rotated files, each at least maxbytes (the
// check comes after the write) and less than maxbytes plus one chunk, and
// the files read oldest to newest are the tail of what the child wrote, in
// order, with nothing lost or repeated.
func TestChildLogRotation(t *testing.T) {
	h := newHarness(t)
	// Lines come one write at a time with a pause, so the pump sees many
	// chunks and the log rotates several times (a fast child's output
	// would arrive as one chunk and rotate once).
	const lines = 100
	s := h.spec("rot3", sh(fmt.Sprintf(`i=0; while [ $i -lt %d ]; do printf 'line %%05d %%070d\n' $i 0; sleep 0.01; i=$((i+1)); done`, lines))...)
	s.StartSecs = 0
	s.AutoRestart = RestartNever
	s.Stdout.Path = h.file("rot3.log")
	s.Stdout.MaxBytes = 1024
	s.Stdout.Backups = 3
	h.update(s)
	last := fmt.Sprintf("line %05d ", lines-1)
	h.waitFor("the last line logged", 10*time.Second, func() bool {
		b, _ := os.ReadFile(h.file("rot3.log"))
		return strings.Contains(string(b), last) || h.rotatedHolds(last)
	})
	if _, err := os.Stat(h.file("rot3.log.4")); err == nil {
		t.Errorf("a fourth backup exists with backups=3")
	}
	var all strings.Builder
	for _, name := range []string{"rot3.log.3", "rot3.log.2", "rot3.log.1", "rot3.log"} {
		b, err := os.ReadFile(h.file(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name != "rot3.log" && (len(b) < 1024 || len(b) > 1024+pumpBufSize) {
			t.Errorf("%s is %d bytes: a rotated file holds at least maxbytes and at most one chunk more", name, len(b))
		}
		all.Write(b)
	}
	got := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	first := lines - len(got)
	for i, l := range got {
		if want := fmt.Sprintf("line %05d %070d", first+i, 0); l != want {
			t.Fatalf("line %d of the kept logs is %q, want %q (lost, repeated or reordered)", i, l, want)
		}
	}
}

// rotatedHolds reports whether the newest rotated rot3 log contains s.
func (h *harness) rotatedHolds(s string) bool {
	b, _ := os.ReadFile(h.file("rot3.log.1"))
	return strings.Contains(string(b), s)
}
