package supervisor

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The subreaper test runs in a child copy of the test binary: subreaper
// mode reaps every child of the process, which would steal the exit
// statuses of the test framework's own exec.Command children.
func TestOrphansAreReaped(t *testing.T) {
	if os.Getenv("TEND_SUBREAPER_CHILD") == "1" {
		orphanChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphansAreReaped$", "-test.v")
	cmd.Env = append(os.Environ(), "TEND_SUBREAPER_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "orphan reaped") {
		t.Fatalf("child test failed: %v\n%s", err, out)
	}
}

func orphanChild(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	h := newHarness(t, Config{Subreaper: true})
	// The program leaves a grandchild behind and exits 3; the grandchild
	// outlives it briefly, is re-parented to us, and must not stay a zombie.
	s := h.spec("parent", sh(`sleep 0.3 & echo $!; exit 3`)...)
	s.StartSecs = 0
	s.AutoRestart = RestartNever
	s.Stdout.Path = h.file("orphan.pid")
	h.update(s)
	info := h.waitState("parent", Exited, 5*time.Second)
	if info.ExitStatus != 3 {
		t.Fatalf("managed exit status %d, want 3 (stolen by the reaper?)", info.ExitStatus)
	}
	pidText := strings.TrimSpace(h.waitFile(h.file("orphan.pid"), "\n", 10*time.Second))
	pid, _ := strconv.Atoi(pidText)
	ppid := func() string {
		b, err := os.ReadFile("/proc/" + pidText + "/stat")
		if err != nil {
			return ""
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		return f[1]
	}
	if got := ppid(); got != "" && got != strconv.Itoa(os.Getpid()) {
		t.Fatalf("orphan %d re-parented to %s, not to us (%d)", pid, got, os.Getpid())
	}
	h.waitFor("orphan reaped", 5*time.Second, func() bool {
		_, err := os.Stat("/proc/" + pidText)
		return os.IsNotExist(err)
	})
	t.Log("orphan reaped")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.e.Shutdown(ctx)
}
