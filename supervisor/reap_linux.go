package supervisor

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// startReaper starts the goroutine that reaps children when SIGCHLD
// arrives. Only it calls wait4, so exit statuses are never stolen.
func (e *Engine) startReaper() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	done := make(chan struct{})
	e.reaperDone = make(chan struct{})
	e.stopReaper = func() { signal.Stop(ch); close(done) }
	go func() {
		defer close(e.reaperDone)
		for {
			select {
			case <-ch:
				e.mu.Lock()
				e.reapLocked()
				e.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
}

// reapLocked collects every exited child. In subreaper mode it reaps any
// child (orphans re-parented to us included); otherwise only the pids it
// spawned, so other code in the process may still use os/exec.
func (e *Engine) reapLocked() {
	var ws syscall.WaitStatus
	if e.cfg.Subreaper {
		for {
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				return
			}
			if p := e.byPid[pid]; p != nil {
				p.exitedLocked(ws)
			} else {
				e.log.Debug("reaped unknown pid " + strconv.Itoa(pid))
			}
		}
	}
	for pid, p := range e.byPid {
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			got, err = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
		if got == pid && err == nil {
			p.exitedLocked(ws)
		}
	}
}

// BecomeSubreaper marks this process as a child subreaper, so orphaned
// descendants are re-parented to it (and must be reaped: see
// Config.Subreaper). PID 1 is one already.
func BecomeSubreaper() error {
	if os.Getpid() == 1 {
		return nil
	}
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// watchExit reaps pid as soon as its pidfd says it exited, on the pump's
// goroutine: the fast path for respawning. SIGCHLD stays the backstop (and
// the only path for orphans); whichever comes first reaps, under mu, and
// the other finds nothing to do.
func (e *Engine) watchExit(pid, pidfd int) {
	if pidfd < 0 {
		return
	}
	err := e.pump.watch(pidfd, func() {
		syscall.Close(pidfd)
		e.mu.Lock()
		defer e.mu.Unlock()
		p := e.byPid[pid]
		if p == nil {
			return // already reaped through SIGCHLD
		}
		var ws syscall.WaitStatus
		for {
			got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if got == pid && err == nil {
				p.exitedLocked(ws)
			}
			return
		}
	})
	if err != nil {
		syscall.Close(pidfd)
	}
}
