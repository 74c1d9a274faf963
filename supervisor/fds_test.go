package supervisor

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// leakyFD returns a descriptor open without close-on-exec, as the daemon
// gets from a careless shell or service manager (or a library that opens
// files with plain open(2)), and closes it at the end of the test.
func leakyFD(t *testing.T) int {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd())) // dup(2) never sets FD_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	flags, err := fcntlGetFD(fd)
	if err != nil || flags&syscall.FD_CLOEXEC != 0 {
		t.Fatalf("fd %d: flags %#x, %v: want an fd without FD_CLOEXEC", fd, flags, err)
	}
	return fd
}

func fcntlGetFD(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// Defect 4 of issue 11: a child gets exactly 0, 1 and 2, whatever stray
// descriptors the daemon holds: inherited before the engine started or
// opened without close-on-exec afterwards, direct spawn or umask
// trampoline, with close_range or with the /proc walk.
func TestChildGetsOnlyStandardFDs(t *testing.T) {
	for _, sweep := range []bool{false, true} {
		t.Run(map[bool]string{false: "close_range", true: "sweep"}[sweep], func(t *testing.T) {
			testChildFDs(t, sweep)
		})
	}
}

func testChildFDs(t *testing.T, sweep bool) {
	before := leakyFD(t)
	h := newHarness(t)
	h.e.mu.Lock()
	h.e.cloexec.sweep = sweep
	h.e.mu.Unlock()
	after := leakyFD(t)

	plain := h.spec("plain", "sleep", "60")
	masked := h.spec("masked", "sleep", "60")
	masked.Umask = 0o027
	h.update(plain, masked)
	for _, name := range []string{"plain", "masked"} {
		info := h.waitState(name, Running, 10*time.Second)
		// The trampoline's exec replaces the image under the same pid:
		// wait for the final program before looking.
		h.waitFor(name+" to exec sleep", 5*time.Second, func() bool {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", info.Pid))
			return string(b) == "sleep\n"
		})
		// The dynamic loader holds libc open for a moment after exec; a
		// leaked descriptor stays for as long as sleep runs.
		var got []int
		deadline := time.Now().Add(3 * time.Second)
		for got = testkit.FDs(t, info.Pid); !slices.Equal(got, []int{0, 1, 2}) && time.Now().Before(deadline); got = testkit.FDs(t, info.Pid) {
			time.Sleep(20 * time.Millisecond)
		}
		if !slices.Equal(got, []int{0, 1, 2}) {
			t.Errorf("%s has descriptors %v, want [0 1 2] (daemon's stray fds were %d and %d)", name, got, before, after)
		}
	}
}

// The /proc walk used on kernels without close_range(CLOSE_RANGE_CLOEXEC).
func TestSweepCloseOnExec(t *testing.T) {
	fd := leakyFD(t)
	if err := sweepCloseOnExec(3); err != nil {
		t.Fatal(err)
	}
	if flags, err := fcntlGetFD(fd); err != nil || flags&syscall.FD_CLOEXEC == 0 {
		t.Errorf("fd %d: flags %#x, %v: want FD_CLOEXEC set", fd, flags, err)
	}
	for _, std := range []int{0, 1, 2} {
		if flags, err := fcntlGetFD(std); err == nil && flags&syscall.FD_CLOEXEC != 0 {
			t.Errorf("fd %d was marked close-on-exec: the daemon's own stdio must stay inheritable", std)
		}
	}
}
