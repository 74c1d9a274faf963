package supervisor

import (
	"fmt"
	"iter"
	"syscall"
)

// fdReserve is what the daemon keeps for itself beyond its children: the
// control sockets and their connections, the epoll set, its own log, the
// config files a reload reads, the Lua VM's files.
const fdReserve = 256

// FDBudget is how many file descriptors a config needs against the
// daemon's limit (RLIMIT_NOFILE).
type FDBudget struct {
	Processes int
	// Need is the daemon's descriptors with every process running and
	// writing to its logs, pidfds included; NeedLean without them (exits
	// are then reaped through SIGCHLD alone).
	Need, NeedLean int
	Limit          int // the soft limit, which the Go runtime raises to the hard one at start
}

// FDsFor estimates the descriptors the daemon holds for one running
// process: the write end of its stdin pipe, the read ends of its output
// pipes (one when stderr is redirected), its pidfd, and its log files
// (each opened at the first output, so a quiet process holds none: this
// counts the worst case).
func FDsFor(s *Spec) (fds, pidfd int) {
	fds = 2 // stdin, stdout
	if !s.RedirectStderr {
		fds++
	}
	if s.Stdout.Path != LogNone {
		fds++
	}
	if !s.RedirectStderr && s.Stderr.Path != LogNone {
		fds++
	}
	return fds, 1
}

// BudgetFDs estimates what specs need against the current limit.
func BudgetFDs(specs []Spec) FDBudget {
	return budgetFDs(func(yield func(*Spec) bool) {
		for i := range specs {
			if !yield(&specs[i]) {
				return
			}
		}
	})
}

func budgetFDs(specs iter.Seq[*Spec]) FDBudget {
	b := FDBudget{Need: fdReserve, NeedLean: fdReserve, Limit: fdLimit()}
	for s := range specs {
		fds, pidfd := FDsFor(s)
		b.Processes++
		b.Need += fds + pidfd
		b.NeedLean += fds
	}
	return b
}

// budgetFDsLocked decides, after an update, whether children get pidfds:
// only while everything fits with them. It logs the budget when the
// answer changes, or when even the lean count does not fit.
func (e *Engine) budgetFDsLocked() {
	b := budgetFDs(func(yield func(*Spec) bool) {
		for _, p := range e.procs {
			if !yield(&p.spec) {
				return
			}
		}
	})
	noPidfd := !b.Fits()
	switch {
	case !b.FitsLean():
		e.log.Error("file descriptors: " + b.String())
	case noPidfd != e.noPidfd:
		e.log.Warn("file descriptors: " + b.String())
	case !e.fdsLogged:
		e.log.Info("file descriptors: " + b.String())
	}
	e.noPidfd, e.fdsLogged = noPidfd, true
}

// Fits reports whether everything fits, pidfds included.
func (b FDBudget) Fits() bool { return b.Limit <= 0 || b.Need <= b.Limit }

// FitsLean reports whether it fits without pidfds.
func (b FDBudget) FitsLean() bool { return b.Limit <= 0 || b.NeedLean <= b.Limit }

// String says how it fits, for the daemon's log and tend check.
func (b FDBudget) String() string {
	switch {
	case b.Fits():
		return fmt.Sprintf("%d processes need up to %d file descriptors; the limit is %d", b.Processes, b.Need, b.Limit)
	case b.FitsLean():
		return fmt.Sprintf("%d processes need up to %d file descriptors with pidfds, over the limit of %d: exits are reaped through SIGCHLD alone, which needs up to %d",
			b.Processes, b.Need, b.Limit, b.NeedLean)
	}
	return fmt.Sprintf("%d processes need up to %d file descriptors, over the limit of %d (ulimit -n, or the daemon's minfds up to the hard limit): some will fail to spawn or lose their logs",
		b.Processes, b.NeedLean, b.Limit)
}

// fdLimit returns the soft RLIMIT_NOFILE, or 0 if unknown.
func fdLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return int(rl.Cur)
}
