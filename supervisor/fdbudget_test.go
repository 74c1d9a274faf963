package supervisor

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// Issue 16: what the daemon holds per process. A quiet child with its
// output logged costs three descriptors (stdin, the output pipe, the
// pidfd): its log exists but is opened at the first byte it writes, and
// then costs one more.
func TestFDsPerProcess(t *testing.T) {
	h := newHarness(t)
	const n = 20
	before := len(testkit.FDs(t, os.Getpid()))
	var specs []Spec
	for i := range n {
		s := h.spec(fmt.Sprintf("q%02d", i), "sleep", "60")
		s.RedirectStderr = true
		s.Stdout.Path = h.file(s.Name + ".log")
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, s := range specs {
		h.waitState(s.Name, Running, 10*time.Second)
		if _, err := os.Stat(s.Stdout.Path); err != nil {
			t.Fatalf("the log of a quiet child must exist: %v", err)
		}
	}
	quiet := len(testkit.FDs(t, os.Getpid())) - before
	if fds, pidfd := FDsFor(&specs[0]); quiet > n*(fds-1+pidfd) {
		t.Errorf("%d quiet children hold %d descriptors, want at most %d each", n, quiet, fds-1+pidfd)
	}
	talk := h.spec("talk", sh("echo hello; exec sleep 60")...)
	talk.RedirectStderr = true
	talk.Stdout.Path = h.file("talk.log")
	h.update(append(specs, talk)...)
	h.waitFile(talk.Stdout.Path, "hello\n", 10*time.Second)
	if got := len(testkit.FDs(t, os.Getpid())) - before - quiet; got > 4 {
		t.Errorf("a child that wrote holds %d descriptors, want 4", got)
	}
}

// Issue 16: when the config needs more descriptors than the limit allows
// with pidfds, children get none and their exits still come through
// SIGCHLD; the budget says so.
func TestFDBudgetDropsPidfds(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	const n = 40
	var specs []Spec
	for i := range n {
		s := h.spec(fmt.Sprintf("p%02d", i), "sleep", "60")
		s.RedirectStderr = true
		s.Stdout.Path = LogNone
		specs = append(specs, s)
	}
	b := BudgetFDs(specs)
	if b.Need != fdReserve+3*n || b.NeedLean != fdReserve+2*n {
		t.Fatalf("budget %+v, want %d with pidfds and %d without", b, fdReserve+3*n, fdReserve+2*n)
	}
	lowered := rl
	lowered.Cur = uint64(b.Need - 1)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) })
	b = BudgetFDs(specs)
	if b.Fits() || !b.FitsLean() || !strings.Contains(b.String(), "SIGCHLD") {
		t.Fatalf("budget %+v (%s): want over the limit with pidfds only", b, b)
	}
	before := len(testkit.FDs(t, os.Getpid()))
	h.update(specs...)
	var pid int
	for _, s := range specs {
		pid = h.waitState(s.Name, Running, 10*time.Second).Pid
	}
	if got := len(testkit.FDs(t, os.Getpid())) - before; got > 2*n {
		t.Errorf("%d children hold %d descriptors: want no pidfds, 2 each", n, got)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	h.waitFor("the killed child replaced", 10*time.Second, func() bool {
		i, err := h.e.Info(specs[n-1].Name)
		return err == nil && i.Pid != pid && i.State == Running
	})
	lowered.Cur = uint64(b.NeedLean - 1)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	if b = BudgetFDs(specs); b.FitsLean() || !strings.Contains(b.String(), "over the limit") {
		t.Errorf("budget %+v (%s): want not fitting at all", b, b)
	}
}
