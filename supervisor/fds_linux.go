package supervisor

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Children must get exactly descriptors 0, 1 and 2 (plus what a feature
// hands them on purpose, which fork/exec dup2s into place and so needs no
// flag here), as supervisord closes everything above 2 in its forked child.
// Go's fork/exec cannot run code in the child, and everything Go opens is
// close-on-exec already; the leaks come from descriptors the daemon
// inherited without the flag (from the shell or the service manager) and
// from libraries that open files with plain open(2)/dup(2). So the engine
// marks every descriptor above 2 close-on-exec in its own process, at start
// and again before each spawn.
//
// Nothing in a Go daemon needs a non-close-on-exec descriptor: os/exec and
// syscall.ForkExec pass files to children by dup2 in the child, which clears
// the flag on the copy.

// closeOnExec marks every descriptor above 2 (from first, when set) of
// this process close-on-exec.
type closeOnExec struct {
	// first is the lowest descriptor marked; 0 means 3. The trampoline
	// sets it above the descriptors tend placed for the program.
	first int
	// sweep is set once close_range(CLOSE_RANGE_CLOEXEC) failed (before
	// Linux 5.11, or refused by a seccomp filter): then /proc/self/fd is
	// walked instead.
	sweep bool
	// failed is set after a failure was returned: the next ones are not,
	// so that a spawn loop does not log the same warning every time.
	failed bool
}

// apply marks the descriptors: one close_range(2) call, which costs about
// 2 µs, or the /proc walk (about 50 µs). It returns the first failure only.
func (c *closeOnExec) apply() error {
	first := max(c.first, 3)
	if !c.sweep {
		if unix.CloseRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
			return nil
		}
		c.sweep = true
	}
	err := sweepCloseOnExec(first)
	if err == nil || c.failed {
		return nil
	}
	c.failed = true
	return err
}

// sweepCloseOnExec sets FD_CLOEXEC on every descriptor from first listed
// in /proc/self/fd that lacks it.
func sweepCloseOnExec(first int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	var errs []error
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < first || fd == int(d.Fd()) {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // closed meanwhile, or already marked
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			errs = append(errs, fmt.Errorf("fd %d: %w", fd, err))
		}
	}
	return errors.Join(errs...)
}
