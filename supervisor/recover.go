package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// OrphanMode says what Recover does with the processes a previous engine
// left running when it died without stopping them (kill -9, OOM killer).
type OrphanMode string

const (
	// OrphansStop stops them gracefully before anything starts: their
	// stopsignal, stopwaitsecs, then SIGKILL of their process group. It is
	// the default ("" means it too).
	OrphansStop OrphanMode = "stop"
	// OrphansAdopt keeps those still configured with the same command
	// running: they show as RUNNING, their exit is noticed through a
	// pidfd, but their output is no longer captured and their exit status
	// is unknown (they are not children of this process).
	OrphansAdopt OrphanMode = "adopt"
)

// ParseOrphanMode parses the daemon option orphans = "stop" | "adopt".
func ParseOrphanMode(s string) (OrphanMode, error) {
	switch m := OrphanMode(s); m {
	case OrphansStop, OrphansAdopt:
		return m, nil
	}
	return "", fmt.Errorf(`orphans must be "stop" or "adopt", got %q`, s)
}

// Outcomes of Recovered.
const (
	RecoverGone    = "gone"    // no longer running
	RecoverReused  = "reused"  // the pid now belongs to another process: left alone
	RecoverStopped = "stopped" // stopped by its stopsignal
	RecoverKilled  = "killed"  // still running after stopwaitsecs: SIGKILLed
	RecoverAdopted = "adopted" // kept running, supervised by this engine
	RecoverFailed  = "failed"  // could not be signalled, or survived SIGKILL (see the log)
)

// Recovered reports one process found in the state file of a previous
// engine and what Recover did with it.
type Recovered struct {
	Name    string // namespec
	Pid     int
	Outcome string // RecoverGone, RecoverStopped...
}

// orphan is a process of a previous engine, proven to be the same process
// (same pid and start time) and pinned by a pidfd, so that signals cannot
// reach a later process that got its pid.
type orphan struct {
	stateProcess
	pidfd int
}

// Recover finds the processes that the previous engine recorded in
// Config.StateFile and that are still running, and deals with them as
// Config.Orphans says; call it before the first Update, with the specs that
// Update will get. With OrphansStop (the default) it returns once they are
// stopped. With OrphansAdopt, those of specs whose command is unchanged are
// adopted by the next Update instead of being started a second time; the
// others are stopped. A pid whose start time differs from the recorded one
// belongs to another process and is never signalled.
//
// Recover refuses (with an error) while the engine that wrote the file is
// still alive. A missing state file is not an error.
func (e *Engine) Recover(ctx context.Context, specs []Spec) ([]Recovered, error) {
	path := e.cfg.StateFile
	if path == "" {
		return nil, nil
	}
	prev, err := readStateFile(path)
	if err != nil {
		return nil, err
	}
	if len(prev.Processes) == 0 {
		return nil, nil
	}
	if prev.BootID != bootID() {
		e.log.Info(fmt.Sprintf("state file %s is from before a reboot: none of its processes can be running", path))
		return nil, nil
	}
	if prev.Pid != os.Getpid() {
		if st, err := readProcStat(prev.Pid); err == nil && st.Start == prev.Start && st.State != 'Z' {
			return nil, fmt.Errorf("the tend that wrote %s (pid %d) is still running: leaving its processes alone", path, prev.Pid)
		}
	}
	keep := map[string]Spec{}
	if e.cfg.Orphans == OrphansAdopt {
		for _, s := range specs {
			keep[s.Namespec()] = s
		}
	}
	var out []Recovered
	var stop []*orphan
	adopt := map[string]*orphan{}
	for _, sp := range prev.Processes {
		o, outcome := e.findOrphan(sp, prev.Pid)
		if o == nil {
			out = append(out, Recovered{Name: sp.Name, Pid: sp.Pid, Outcome: outcome})
			continue
		}
		s, ok := keep[sp.Name]
		switch {
		case ok && slices.Equal(s.Command, sp.Command) && adopt[sp.Name] == nil:
			adopt[sp.Name] = o
			out = append(out, Recovered{Name: sp.Name, Pid: sp.Pid, Outcome: RecoverAdopted})
		case e.cfg.Orphans == OrphansAdopt:
			why := "it is no longer configured"
			if ok {
				why = "its command changed"
			}
			e.log.Info(fmt.Sprintf("not adopting '%s' (pid %d) left running by a previous tend: %s", sp.Name, sp.Pid, why))
			fallthrough
		default:
			stop = append(stop, o)
		}
	}
	out = append(out, e.stopOrphans(ctx, stop)...)
	e.mu.Lock()
	e.adoptable = adopt
	e.mu.Unlock()
	return out, nil
}

// findOrphan checks that the recorded process still runs: it opens a pidfd
// first, then compares the start time; if they match, the pidfd refers to
// that very process (it was alive before the pidfd was opened and after).
func (e *Engine) findOrphan(sp stateProcess, daemonPid int) (*orphan, string) {
	if sp.Pid <= 1 || sp.Pid == os.Getpid() {
		return nil, RecoverReused
	}
	fd, err := unix.PidfdOpen(sp.Pid, 0)
	if err != nil {
		return nil, RecoverGone
	}
	st, err := readProcStat(sp.Pid)
	switch {
	case err != nil || st.State == 'Z':
		unix.Close(fd)
		return nil, RecoverGone
	case st.Start != sp.Start:
		unix.Close(fd)
		e.log.Info(fmt.Sprintf("pid %d of '%s' (left by a previous tend, pid %d) is now another process: leaving it alone",
			sp.Pid, sp.Name, daemonPid))
		return nil, RecoverReused
	}
	return &orphan{stateProcess: sp, pidfd: fd}, ""
}

// stopOrphans stops orphans concurrently and waits for all of them.
func (e *Engine) stopOrphans(ctx context.Context, orphans []*orphan) []Recovered {
	out := make([]Recovered, len(orphans))
	var wg sync.WaitGroup
	for i, o := range orphans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.stopOrphan(ctx, o)
		}()
	}
	wg.Wait()
	return out
}

// orphanKillWait bounds the wait for an orphan to die after SIGKILL.
const orphanKillWait = 5 * time.Second

// stopOrphan stops one orphan as supervisord stops a process (stopsignal,
// then SIGKILL after stopwaitsecs), then kills what is left of its process
// group: it belonged to the dead engine's tree.
func (e *Engine) stopOrphan(ctx context.Context, o *orphan) Recovered {
	defer unix.Close(o.pidfd)
	r := Recovered{Name: o.Name, Pid: o.Pid}
	sig, err := ParseSignal(o.StopSignal)
	if err != nil {
		sig = syscall.SIGTERM
	}
	e.log.Warn(fmt.Sprintf("stopping '%s' (pid %d) left running by a previous tend, with SIG%s", o.Name, o.Pid, SignalName(sig)))
	if err := o.signal(sig, o.StopAsGroup); err != nil && !errors.Is(err, unix.ESRCH) {
		e.log.Error(fmt.Sprintf("could not signal '%s' (pid %d): %v", o.Name, o.Pid, err))
		r.Outcome = RecoverFailed
		return r
	}
	wait := time.Duration(o.StopWait * float64(time.Second))
	if pidfdWait(ctx, o.pidfd, wait) {
		r.Outcome = RecoverStopped
		e.log.Info(fmt.Sprintf("stopped: '%s' (pid %d; exit status unknown: not a child of this tend)", o.Name, o.Pid))
	} else {
		e.log.Warn(fmt.Sprintf("killing '%s' (pid %d) process group with SIGKILL", o.Name, o.Pid))
		o.signal(syscall.SIGKILL, false) // in case it left its group
		o.signal(syscall.SIGKILL, true)
		if pidfdWait(ctx, o.pidfd, orphanKillWait) {
			r.Outcome = RecoverKilled
		} else {
			r.Outcome = RecoverFailed
			e.log.Error(fmt.Sprintf("'%s' (pid %d) is still running after SIGKILL", o.Name, o.Pid))
		}
	}
	if o.groupLeft() {
		e.log.Warn(fmt.Sprintf("killing what is left of process group %d of '%s' with SIGKILL", o.Pgid, o.Name))
		o.signal(syscall.SIGKILL, true)
		o.waitGroupGone(ctx)
	}
	return r
}

// waitGroupGone waits (up to orphanKillWait) until the orphan's process
// group is empty, so that Recover returns with nothing of it left. No
// descriptor signals that, so it looks every 10 ms: this runs once, at
// start-up, for a group that was just sent SIGKILL.
func (o *orphan) waitGroupGone(ctx context.Context) {
	deadline := time.Now().Add(orphanKillWait)
	for o.groupLeft() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// signal sends sig to the orphan through its pidfd, or to its process
// group. The group id equals the leader's pid: while the leader lives (its
// pidfd not readable) that id is pinned to it; once it is gone, the id
// stays reserved while any member lives, so the group is signalled unless
// the pid now belongs to an unrelated process.
func (o *orphan) signal(sig syscall.Signal, group bool) error {
	if !group {
		return unix.PidfdSendSignal(o.pidfd, sig, nil, 0)
	}
	if pidfdExited(o.pidfd) && !o.groupLeft() {
		return nil
	}
	return unix.Kill(-o.Pgid, sig)
}

// groupLeft reports whether members of the orphan's process group remain
// after its leader exited, and the group id still is its group.
func (o *orphan) groupLeft() bool {
	if !pidfdExited(o.pidfd) {
		return false
	}
	if st, err := readProcStat(o.Pgid); err == nil && st.Start != o.Start {
		return false // the id now names another process (and group)
	}
	return unix.Kill(-o.Pgid, 0) == nil
}

// pidfdExited reports whether the pidfd's process has exited.
func pidfdExited(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0
}

// pidfdWaitSlice is how often pidfdWait looks at ctx.
const pidfdWaitSlice = 250 * time.Millisecond

// pidfdWait waits up to d for the pidfd's process to exit, and reports
// whether it did.
func pidfdWait(ctx context.Context, fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return pidfdExited(fd)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(min(left, pidfdWaitSlice).Milliseconds())+1)
		if err == nil && n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}

// adoption is the pidfd of an adopted process: it is not our child, so its
// pid may be reused as soon as it exits, and signals go through the pidfd.
type adoption struct{ pidfd int }

// adoptLocked makes p supervise an orphan that Recover kept for it:
// RUNNING, its exit noticed through the pidfd, no output capture.
func (p *process) adoptLocked(o *orphan) {
	start := startWallTime(o.Start)
	if start.IsZero() {
		start = p.e.clock.Now()
	}
	p.pid, p.startTicks, p.start = o.Pid, o.Start, start
	a := &adoption{pidfd: o.pidfd}
	p.adopted = a
	p.everStart = true
	p.setStateLocked(Running, false)
	p.startHealthLocked() // the probe; the watchdog needs the notify socket of a spawn
	p.logf(slog.LevelWarn, "adopted: '%s' with pid %d, left running by a previous tend; its output is not captured and its exit status will be unknown",
		p.spec.Name, o.Pid)
	p.e.stateChangedLocked()
	p.watchAdoptedLocked(a)
}

// watchAdoptedLocked arranges for adoptedExitLocked to run when the
// adopted process exits: the pump watches a duplicate of its pidfd (or a
// goroutine blocks in poll(2) on one, without the pump), so that the
// original stays valid for signals until the exit is handled.
func (p *process) watchAdoptedLocked(a *adoption) {
	exited := func() {
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if p.adopted == a {
			p.adoptedExitLocked()
		}
	}
	dup, err := unix.FcntlInt(uintptr(a.pidfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		p.logf(slog.LevelError, "cannot watch adopted '%s' (pid %d) for its exit: %v", p.spec.Name, p.pid, err)
		return
	}
	if p.e.pump != nil && p.e.pump.watch(dup, func() { unix.Close(dup); exited() }) == nil {
		return
	}
	go func() {
		defer unix.Close(dup)
		pfd := []unix.PollFd{{Fd: int32(dup), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		exited()
	}()
}

// adoptedExitLocked handles the exit of an adopted process, whose status
// only its real parent can collect.
func (p *process) adoptedExitLocked() {
	unix.Close(p.adopted.pidfd)
	p.adopted = nil
	now := p.e.clock.Now()
	pid := p.pid
	p.pid, p.startTicks, p.lastPid, p.stop = 0, 0, pid, now
	defer func() { p.lastPid = 0 }()
	p.e.stateChangedLocked()
	if p.shadowOf != nil {
		p.shadowExitedLocked(ExitInfo{Pid: pid, Code: -1}, "exit status unknown: adopted", false)
		return
	}
	dying := p.dying
	p.dying = unhealthyKill{}
	p.stopHealthLocked()
	if p.state == Stopping {
		p.logf(slog.LevelInfo, "stopped: %s (exit status unknown: adopted, not a child of this tend)", p.spec.Name)
		p.setStateLocked(Stopped, false)
		p.afterStopLocked()
		return
	}
	p.logf(slog.LevelWarn, "exited: %s (exit status unknown: adopted, not a child of this tend; not expected)", p.spec.Name)
	p.exitStatus = 0
	ei := ExitInfo{Pid: pid, Code: -1, Uptime: now.Sub(p.start), StartRetries: p.spec.StartRetries, Reason: dying.reason, cause: dying.cause}
	p.lastExit = ei
	p.setStateLocked(Exited, false)
	p.decideExitLocked(ei)
}

// sendLocked sends sig to p's process, or to its process group. An adopted
// process is signalled through its pidfd, and its group only while that
// says it is alive (which pins the group id).
func (p *process) sendLocked(sig syscall.Signal, group bool) error {
	if p.adopted != nil {
		if !group {
			return unix.PidfdSendSignal(p.adopted.pidfd, sig, nil, 0)
		}
		if pidfdExited(p.adopted.pidfd) {
			return syscall.ESRCH
		}
	}
	if group {
		return syscall.Kill(-p.pid, sig)
	}
	return syscall.Kill(p.pid, sig)
}

// claimOrphanLocked hands p the orphan Recover kept for it.
func (e *Engine) claimOrphanLocked(p *process) {
	if o := e.adoptable[p.spec.Namespec()]; o != nil {
		delete(e.adoptable, p.spec.Namespec())
		p.adoptLocked(o)
	}
}

// unclaimedOrphansLocked returns the orphans Recover kept that the update
// just done did not adopt (the config changed in between), to be stopped.
func (e *Engine) unclaimedOrphansLocked() []*orphan {
	var out []*orphan
	for name, o := range e.adoptable {
		e.log.Info(fmt.Sprintf("not adopting '%s' (pid %d) left running by a previous tend: it is no longer configured", name, o.Pid))
		out = append(out, o)
	}
	e.adoptable = nil
	return out
}
