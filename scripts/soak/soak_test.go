package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// openDefects are the issue-11 defects not fixed yet (8 was the
// concurrent-stop wedge this harness found; all are fixed). While a defect is open, a
// failing figure that detects it is logged as known instead of failing
// the test, and a scenario marked slow that detects it is skipped (it
// would wait out long timeouts or set off a memory bomb). Delete a number
// here when its fix lands: its figures then fail the suite if it regresses.
// TEND_SOAK_ALL=1 runs the slow scenarios anyway.
// 2 (reopened when CI load let the 1 s hook deadline beat the budget and
// the RSS stayed up) is fixed: memory a call grew by is returned whatever
// ended the call, and the scenario gives the bombs a deadline the budget
// comes first under.
var openDefects = map[int]bool{}

func TestMain(m *testing.M) {
	// The harness runs its own binary as a supervised child (the log
	// writer); under go test that binary is this test binary.
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// TestSoakShort runs every scenario of the torture harness briefly against
// a freshly built tend: seconds each, the same code as the long run.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tend and runs daemons; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("TEND_SOAK_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (replay with TEND_SOAK_SEED=%d, or go run ./scripts/soak -short -seed %d)", seed, seed, seed)
	ctx := context.Background()
	log := &lockedBuffer{}
	h, err := newHarness(ctx, "", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Cleanup)
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			if s.longOnly && os.Getenv("TEND_SOAK_ALL") == "" {
				t.Skipf("waits out the daemon's idle timeout: go run ./scripts/soak -only %s (TEND_SOAK_ALL=1 runs it here)", s.name)
			}
			if open := openOf(s.defects); s.slow && len(open) > 0 && os.Getenv("TEND_SOAK_ALL") == "" {
				t.Skipf("slow while defect %v is open (TEND_SOAK_ALL=1 runs it)", open)
			}
			n := len(h.report.Figures())
			log.reset()
			h.runScenario(ctx, s, shortConfig(), seed)
			checkFigures(t, h.report.Figures()[n:])
			if t.Failed() {
				t.Log("harness log:\n" + log.String())
			}
		})
	}
}

// checkFigures fails t for each failed figure, except those of open
// defects, which are logged.
func checkFigures(t *testing.T, figs []Figure) {
	t.Helper()
	for _, f := range figs {
		line := fmt.Sprintf("%s: %s", f.Name, f.Value)
		switch {
		case f.Skipped:
			t.Logf("skipped %s", line)
		case !f.OK && openDefects[f.Defect]:
			t.Logf("known failure (defect %d open): %s", f.Defect, line)
		case !f.OK:
			t.Errorf("FAIL %s", line)
		case openDefects[f.Defect]:
			t.Logf("passes although defect %d is listed open (remove it from openDefects?): %s", f.Defect, line)
		}
	}
}

// openOf returns the defects of ds that are still open.
func openOf(ds []int) []int {
	var out []int
	for _, d := range ds {
		if openDefects[d] {
			out = append(out, d)
		}
	}
	return out
}

// TestVerifyStream checks the log checker itself: it accepts the exact end
// of the stream and catches a lost, a duplicated and a changed byte.
func TestVerifyStream(t *testing.T) {
	dir := t.TempDir()
	var stream []byte
	for i := int64(0); i < 100; i++ {
		stream = append(stream, streamLine(i)...)
	}
	written := int64(len(stream))
	tail := stream[1000:]
	tests := []struct {
		name  string
		parts [][]byte
		ok    bool
	}{
		{"exact tail in two files", [][]byte{tail[:777], tail[777:]}, true},
		{"whole stream", [][]byte{stream}, true},
		{"a byte lost between files", [][]byte{tail[:777], tail[778:]}, false},
		{"a line duplicated", [][]byte{tail[:128], tail[64:]}, false},
		{"a byte changed", [][]byte{append(append([]byte{}, tail[:10]...), append([]byte{'#'}, tail[11:]...)...)}, false},
		{"reordered", [][]byte{tail[640:], tail[:640]}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []string
			for i, p := range tt.parts {
				f := fmt.Sprintf("%s/%s.%d", dir, tt.name, i)
				if err := os.WriteFile(f, p, 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
			}
			_, err := verifyStream(files, written)
			if (err == nil) != tt.ok {
				t.Errorf("verifyStream ok=%v, want %v (err %v)", err == nil, tt.ok, err)
			}
		})
	}
}

// TestKillMarked checks the cleanup the harness relies on: a process that
// carries the run's marker is found, named after its SUPERVISOR_* variables,
// and killed; one without the marker is left alone.
func TestKillMarked(t *testing.T) {
	h := &Harness{mark: "test-" + strconv.Itoa(os.Getpid())}
	start := func(env ...string) *exec.Cmd {
		cmd := exec.Command("sleep", "1000")
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	ours := start(markerKey+"="+h.mark, "SUPERVISOR_ENABLED=1", "SUPERVISOR_GROUP_NAME=g", "SUPERVISOR_PROCESS_NAME=p")
	other := start(markerKey + "=another-run")
	got := markedProcesses(markerKey, h.mark)
	if len(got) != 1 || got[0].pid != ours.Process.Pid || got[0].process != "g:p" || got[0].daemon {
		t.Fatalf("markedProcesses = %+v, want only pid %d as g:p", got, ours.Process.Pid)
	}
	if n := h.killMarked(); n != 1 {
		t.Fatalf("killMarked killed %d, want 1", n)
	}
	if err := ours.Wait(); err == nil {
		t.Fatal("marked process exited cleanly; want killed")
	}
	if !alive(other.Process.Pid) {
		t.Fatal("the process of another run was killed")
	}
}
