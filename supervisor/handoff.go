package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The engine's side of a re-exec (tend reexec: the daemon execs a new
// binary under its own pid; the protocol is in package daemon). Freeze
// stops the engine between two steps and describes every process, with
// the descriptors the new binary must inherit; Resume, in the new binary,
// rebuilds the same table from that description and reads the same pipes
// on. The children are never signalled, and nothing reaps them while the
// engine is frozen, so an exit in the window is still a zombie holding its
// true wait status when the new binary looks.

// Handoff is the engine's state carried across a re-exec, as JSON.
type Handoff struct {
	BootID     string           `json:"boot_id"` // start times only compare within a boot
	Processes  []HandoffProcess `json:"processes"`
	History    []StateChange    `json:"history,omitempty"`
	HistorySeq uint64           `json:"history_seq,omitempty"`
	// Sockets are the listening sockets the engine holds (HeldSockets),
	// carried open so that the new engine serves them without a gap:
	// give them to it as Config.Sockets.
	Sockets []HandoffSocket `json:"sockets,omitempty"`
}

// HandoffSocket is one held socket of a Handoff: its URL and descriptor.
type HandoffSocket struct {
	URL string `json:"url"`
	FD  int    `json:"fd"`
}

// HandoffProcess is one process of a Handoff: its place in the config, its
// state and counters, and the descriptors its run uses (-1: none).
type HandoffProcess struct {
	Group   string   `json:"group"`
	Name    string   `json:"name"`
	Program string   `json:"program"`
	Command []string `json:"command"`
	// How to stop it, should the new config no longer have it.
	StopSignal  string        `json:"stopsignal"`
	StopWait    time.Duration `json:"stopwait"`
	StopAsGroup bool          `json:"stopasgroup,omitempty"`
	KillAsGroup bool          `json:"killasgroup,omitempty"`

	State       State     `json:"state"`
	Pid         int       `json:"pid,omitempty"`
	StartTicks  uint64    `json:"start_ticks,omitempty"` // /proc/PID/stat field 22
	Adopted     bool      `json:"adopted,omitempty"`     // not our child (Recover)
	Start       time.Time `json:"start"`
	Stop        time.Time `json:"stop"`
	ExitStatus  int       `json:"exit_status"`
	SpawnErr    string    `json:"spawn_err,omitempty"`
	Backoff     int       `json:"backoff"`
	Restarts    int       `json:"restarts"`
	EverStart   bool      `json:"ever_start,omitempty"`
	UserStopped bool      `json:"user_stopped,omitempty"`
	KillSent    bool      `json:"kill_sent,omitempty"`
	StopAt      time.Time `json:"stop_at"`
	LastExit    ExitInfo  `json:"last_exit"`

	Failures         []time.Time `json:"failures,omitempty"`
	LimitReason      string      `json:"limit_reason,omitempty"`
	MemAbove         time.Time   `json:"mem_above"`
	RestartAfterStop bool        `json:"restart_after_stop,omitempty"`
	MemoryRestarts   int         `json:"memory_restarts,omitempty"`
	StopReason       string      `json:"stop_reason,omitempty"`

	// TimerDue is when the pending timer of the state fires (startsecs,
	// backoff, stopwaitsecs, a delayed restart); zero when none is armed.
	TimerDue time.Time `json:"timer_due"`
	// Deciding says a policy hook was asked and had not answered: the new
	// binary asks its own state again.
	Deciding bool `json:"deciding,omitempty"`

	Stdout int `json:"stdout_fd"`
	Stderr int `json:"stderr_fd"`
	Stdin  int `json:"stdin_fd"`
	// Partial is the unfinished last line of a framed stdout (0) and
	// stderr (1) (log_prefix, logs on tend's stdout): read, not yet
	// written.
	Partial [2][]byte `json:"partial,omitzero"`

	Ready          bool   `json:"ready,omitempty"`
	NotifyFD       int    `json:"notify_fd"`
	NotifyEnv      string `json:"notify_env,omitempty"`
	StatusText     string `json:"status_text,omitempty"`
	NotifyRejected int    `json:"notify_rejected,omitempty"`
}

// Frozen is an engine stopped for a re-exec by Freeze: no state changes,
// no reaping, no output read, until Thaw. Exec while it is frozen.
type Frozen struct {
	e      *Engine
	resume func()
	state  Handoff
	fds    []int
	held   []*lineWriter // framers whose partial-line timer is stopped
	thawed bool
}

// State is the engine's state as the new binary needs it.
func (f *Frozen) State() Handoff { return f.state }

// Fds are the descriptors the new binary must inherit: clear their
// close-on-exec flag right before the exec (and set it again if it fails).
func (f *Frozen) Fds() []int { return slices.Clone(f.fds) }

// Thaw lets a frozen engine go on, as if nothing happened: the exec did not
// take place. Timers that came due meanwhile fire now, exits are reaped.
func (f *Frozen) Thaw() {
	if f.thawed {
		return
	}
	f.thawed = true
	f.e.mu.Unlock()
	f.e.updateMu.Unlock()
	f.resume()
}

// Freeze stops the engine for a re-exec and describes it: it waits for an
// update in progress to finish, parks the output pump between two reads
// (what children write from then on stays in their pipes, for the new
// binary to read), and holds the engine's lock, which stops every state
// change, timer, hook answer and reap until Thaw. It refuses (and leaves
// the engine running) what a re-exec cannot carry yet: event listener
// pools and a process still waiting to become ready. The readers of
// framed streams (log_prefix, logs on tend's own stdout/stderr) are parked
// too; one that cannot park (blocked writing to a stdout nobody reads)
// makes Freeze fail.
func (e *Engine) Freeze() (*Frozen, error) {
	if e.pump == nil {
		return nil, errors.New("re-exec needs the output pump (epoll), which is unavailable in this daemon")
	}
	e.updateMu.Lock()
	resumePump := e.pump.pause()
	resumeFramed, err := e.pauseFramed()
	if err != nil {
		resumePump()
		e.updateMu.Unlock()
		return nil, err
	}
	e.mu.Lock()
	f := &Frozen{e: e}
	f.resume = func() {
		for _, w := range f.held {
			w.releasePartial()
		}
		resumeFramed()
		resumePump()
	}
	err = e.handoffableLocked()
	if err == nil {
		f.state, f.fds, f.held = e.handoffLocked()
	}
	if err != nil {
		f.Thaw()
		return nil, err
	}
	return f, nil
}

// Describe returns the engine's state as Freeze would hand it over, without
// freezing and without descriptors: what a new binary is checked against
// before the daemon stops serving.
func (e *Engine) Describe() (Handoff, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.handoffableLocked(); err != nil {
		return Handoff{}, err
	}
	h := Handoff{BootID: bootID(), History: e.history.list(), HistorySeq: e.history.seq}
	for _, p := range e.orderedLocked() {
		h.Processes = append(h.Processes, p.handoffLocked())
	}
	return h, nil
}

// handoffableLocked refuses what a re-exec cannot carry yet.
func (e *Engine) handoffableLocked() error {
	if e.shuttingDown {
		return fault(FaultShutdownState, "")
	}
	for _, p := range e.orderedLocked() {
		name := p.spec.Namespec()
		switch {
		case p.peer != nil || p.roll != nil:
			return fmt.Errorf("'%s' is in a rolling restart: try again once it has finished", name)
		case p.waiting:
			return fmt.Errorf("'%s' is waiting for its requirements: try again once it has started", name)
		case p.pid == 0:
		case p.spec.Listener != nil:
			return fmt.Errorf("'%s' is an event listener: re-exec does not carry event listener pools yet", name)
		case p.state == Starting && p.rd != nil && !p.rd.ready:
			return fmt.Errorf("'%s' is STARTING and not ready yet: try again once it is RUNNING", name)
		}
	}
	return nil
}

// handoffLocked describes every process and lists the descriptors to keep.
func (e *Engine) handoffLocked() (Handoff, []int, []*lineWriter) {
	h := Handoff{BootID: bootID(), History: e.history.list(), HistorySeq: e.history.seq}
	var fds []int
	var held []*lineWriter
	keep := func(fd int, ok bool) int {
		if !ok {
			return -1
		}
		fds = append(fds, fd)
		return fd
	}
	// pipe keeps a run's output pipe if its reader still reads it: the
	// pump, or a framed reader (parked), whose unfinished line goes too.
	pipe := func(r *os.File, partial *[]byte) int {
		if fc := e.framedCaps.get(r); fc != nil {
			held = append(held, fc.lines)
			*partial = fc.lines.holdPartial()
			fd := fileFd(r)
			return keep(fd, fd >= 0)
		}
		return keep(e.pump.holds(r))
	}
	for _, p := range e.orderedLocked() {
		hp := p.handoffLocked()
		if p.pid != 0 && p.adopted == nil {
			hp.Stdout = pipe(p.outR, &hp.Partial[0])
			hp.Stderr = pipe(p.errR, &hp.Partial[1])
			if p.stdin != nil {
				fd := fileFd(p.stdin)
				hp.Stdin = keep(fd, fd >= 0)
			}
			if p.rd != nil && p.rd.ready && p.rd.notify != nil {
				hp.NotifyFD, hp.NotifyEnv = keep(connFd(p.rd.notify)), p.rd.env
			}
		}
		h.Processes = append(h.Processes, hp)
	}
	for _, url := range slices.Sorted(maps.Keys(e.sockets.held)) {
		fd := fileFd(e.sockets.held[url].file)
		h.Sockets = append(h.Sockets, HandoffSocket{URL: url, FD: keep(fd, fd >= 0)})
	}
	return h, fds, held
}

// connFd returns a socket's descriptor.
func connFd(c *net.UnixConn) (int, bool) {
	fd := -1
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd, fd >= 0
}

// handoffLocked describes p, without descriptors.
func (p *process) handoffLocked() HandoffProcess {
	sig := p.spec.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	hp := HandoffProcess{
		Group: p.spec.Group, Name: p.spec.Name, Program: p.spec.Program, Command: slices.Clone(p.spec.Command),
		StopSignal: SignalName(sig), StopWait: p.spec.StopWait, StopAsGroup: p.spec.StopAsGroup, KillAsGroup: p.spec.KillAsGroup,
		State: p.state, Pid: p.pid, StartTicks: p.startTicks, Adopted: p.adopted != nil,
		Start: p.start, Stop: p.stop, ExitStatus: p.exitStatus, SpawnErr: p.spawnErr,
		Backoff: p.backoff, Restarts: p.restarts, EverStart: p.everStart, UserStopped: p.userStopped,
		KillSent: p.killSent, StopAt: p.stopAt, LastExit: p.lastExit,
		Failures: slices.Clone(p.failures), LimitReason: p.limitReason, MemAbove: p.memAbove,
		RestartAfterStop: p.restartAfterStop, MemoryRestarts: p.memoryRestarts, StopReason: p.stopReason,
		Deciding: p.asking && p.askGen == p.gen,
		Stdout:   -1, Stderr: -1, Stdin: -1, NotifyFD: -1,
		Ready: p.rd != nil && p.rd.ready, StatusText: p.statusText, NotifyRejected: p.notifyRejected,
	}
	if p.stopTimer != nil {
		hp.TimerDue = p.timerAt
	}
	if p.pid != 0 && hp.StartTicks == 0 {
		// Not recorded without a state file: our child cannot be reaped
		// while the engine is frozen, so this is still its start time.
		if st, err := readProcStat(p.pid); err == nil {
			hp.StartTicks = st.Start
		}
	}
	return hp
}

// bareSpec is the spec of a process the new config no longer has: enough
// to show it and to stop it as its old config said (the Update that
// follows Resume removes it).
func (hp *HandoffProcess) bareSpec() Spec {
	s := Spec{Group: hp.Group, Name: hp.Name, Program: hp.Program, Command: slices.Clone(hp.Command),
		StopWait: hp.StopWait, StopAsGroup: hp.StopAsGroup, KillAsGroup: hp.KillAsGroup, Umask: -1}
	if sig, err := ParseSignal(hp.StopSignal); err == nil {
		s.StopSignal = sig
	}
	return s
}

// Resume rebuilds, in a new engine, the processes a re-exec carried: h is
// what Freeze gave in the previous binary of this very process, whose
// descriptors it inherited. Call it instead of Recover, before the first
// Update, with the specs of the config as loaded now, and subscribe to
// events first: processes that exited during the re-exec are reaped here,
// with their true exit status, and handled by the usual rules (restarted by
// autorestart, their hooks asked).
//
// Each process keeps its pid, start time, state, counters and pending
// timer (due at the same time), and its output pipes are read on into the
// same log files (opened again by path, in append mode). A pid whose start
// time is not the recorded one is not the child that was handed over: it is
// reported and treated as exited (never signalled). A process the config
// no longer has keeps a bare spec, and one whose command changed keeps its
// old command, so that the next Update stops or restarts them as any
// update would.
func (e *Engine) Resume(h Handoff, specs []Spec) error {
	if err := validateSpecs(specs); err != nil {
		return err
	}
	if h.BootID != bootID() {
		return errors.New("resume: the handoff is from another boot")
	}
	byName := map[string]Spec{}
	for _, s := range specs {
		byName[s.Namespec()] = s
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.procs) > 0 {
		return errors.New("resume: the engine already has processes")
	}
	if e.reaperDone == nil {
		// Started now (Config.Resuming), under mu: it reaps only once the
		// children below are known.
		defer e.startReaper()
	}
	if len(h.History) > 0 {
		e.history = history{seq: h.History[0].Seq - 1}
		for _, c := range h.History {
			e.history.add(c)
		}
	}
	var ps []*process
	for _, hp := range h.Processes {
		key := Namespec(hp.Group, hp.Name)
		s, ok := byName[key]
		switch {
		case !ok:
			e.log.Warn(fmt.Sprintf("resume: '%s' is no longer in the config; the next update stops it", key))
			s = hp.bareSpec()
		case !slices.Equal(s.Command, hp.Command):
			e.log.Warn(fmt.Sprintf("resume: the command of '%s' changed in the config; the next update restarts it", key))
			s.Command = slices.Clone(hp.Command)
		}
		p := &process{e: e, spec: s}
		e.procs[key] = p
		ps = append(ps, p)
	}
	e.rebuildGroupsLocked()
	// The sockets carried over (Config.Sockets) become the held sockets of
	// the programs naming them, before a restart needs one.
	resumed := make([]Spec, len(ps))
	for i, p := range ps {
		resumed[i] = p.spec
	}
	if err := e.openSocketsLocked(resumed); err != nil {
		e.log.Warn("resume: " + err.Error())
	}
	for i, p := range ps {
		p.restoreLocked(h.Processes[i])
	}
	e.stateChangedLocked()
	e.reapLocked()
	return nil
}

// restoreLocked gives p the state hp describes and resumes its run.
func (p *process) restoreLocked(hp HandoffProcess) {
	p.state, p.start, p.stop, p.exitStatus, p.spawnErr = hp.State, hp.Start, hp.Stop, hp.ExitStatus, hp.SpawnErr
	p.backoff, p.restarts, p.everStart, p.userStopped = hp.Backoff, hp.Restarts, hp.EverStart, hp.UserStopped
	p.killSent, p.stopAt, p.lastExit = hp.KillSent, hp.StopAt, hp.LastExit
	p.failures, p.limitReason, p.memAbove = hp.Failures, hp.LimitReason, hp.MemAbove
	p.restartAfterStop, p.memoryRestarts, p.stopReason = hp.RestartAfterStop, hp.MemoryRestarts, hp.StopReason
	p.statusText, p.notifyRejected = hp.StatusText, hp.NotifyRejected
	if hp.Pid != 0 {
		if !p.resumeRunLocked(hp) {
			return
		}
	}
	left := max(hp.TimerDue.Sub(p.e.clock.Now()), 0)
	switch {
	case p.state == Running:
		p.watchMemoryLocked()
		p.startHealthLocked() // the probe and watchdog start again
	case p.state == Starting:
		p.afterLocked(left, p.enterRunningLocked)
	case p.state == Stopping && !p.killSent:
		p.afterLocked(left, p.killLocked)
	case hp.Deciding && p.state == Backoff:
		p.scheduleRetryLocked(ExitInfo{Pid: hp.LastExit.Pid, Code: hp.LastExit.Code, Signal: hp.LastExit.Signal,
			Uptime: hp.LastExit.Uptime, Attempt: p.backoff, StartRetries: p.spec.StartRetries})
	case hp.Deciding && p.state == Exited:
		p.decideExitLocked(p.lastExit)
	case hp.TimerDue.IsZero():
	case p.state == Backoff:
		p.afterLocked(left, p.retryLocked)
	case p.state == Exited:
		p.afterLocked(left, p.restartLocked)
	}
}

// resumeRunLocked takes over the run of a process that has a pid: checks
// it is the same process, reads its pipes on, watches for its exit. It
// returns false when the process is not there any more.
func (p *process) resumeRunLocked(hp HandoffProcess) bool {
	files := map[int]*os.File{}
	file := func(fd int, name string) *os.File {
		if fd < 0 {
			return nil
		}
		f := os.NewFile(uintptr(fd), name)
		files[fd] = f
		return f
	}
	what := p.spec.Namespec()
	pp := &pipes{stdoutR: file(hp.Stdout, "stdout of "+what), stderrR: file(hp.Stderr, "stderr of "+what),
		stdinW: file(hp.Stdin, "stdin of "+what), stdinR: -1, stdoutW: -1, stderrW: -1}
	notify := file(hp.NotifyFD, "notify socket of "+what)
	if hp.Adopted {
		o, _ := p.e.findOrphan(stateProcess{Name: what, Pid: hp.Pid, Start: hp.StartTicks}, os.Getpid())
		if o == nil {
			p.logf(slog.LevelWarn, "resume: adopted '%s' (pid %d) has gone", what, hp.Pid)
			p.lostRunLocked(hp.Pid)
			return false
		}
		p.pid, p.startTicks = hp.Pid, hp.StartTicks
		a := &adoption{pidfd: o.pidfd}
		p.adopted = a
		p.watchAdoptedLocked(a)
		return true
	}
	st, err := readProcStat(hp.Pid)
	if err != nil || st.Start != hp.StartTicks {
		p.logf(slog.LevelError, "resume: pid %d is not the '%s' that was handed over (its start time differs): treating it as exited",
			hp.Pid, what)
		for _, f := range files {
			f.Close()
		}
		p.lostRunLocked(hp.Pid)
		return false
	}
	p.pid, p.startTicks = hp.Pid, hp.StartTicks
	if err := p.openLogsLocked(); err != nil {
		p.logf(slog.LevelError, "resume: %s: %v", what, err)
	}
	p.stdin = pp.stdinW
	if p.spec.Ready != nil {
		p.rd = &readyRun{ready: hp.Ready, startsecsDone: hp.State != Starting, env: hp.NotifyEnv}
		if notify != nil {
			p.resumeNotifyLocked(notify)
		}
	} else if notify != nil {
		notify.Close()
	}
	if pp.stdoutR != nil {
		p.resumePartial = hp.Partial
		p.captureLocked(pp)
		p.resumePartial = [2][]byte{}
	}
	p.e.byPid[p.pid] = p
	if pidfd, err := unix.PidfdOpen(p.pid, 0); err == nil {
		p.e.watchExit(p.pid, pidfd)
	}
	return true
}

// resumeNotifyLocked reads the carried sd_notify socket of a ready
// process on (STATUS= updates), until its run ends.
func (p *process) resumeNotifyLocked(f *os.File) {
	c, err := net.FileConn(f)
	f.Close()
	uc, ok := c.(*net.UnixConn)
	if err != nil || !ok {
		p.logf(slog.LevelWarn, "resume: notify socket of %s: %v", p.spec.Name, err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &readyRun{ready: true, startsecsDone: true, env: p.rd.env, notify: uc, cancel: cancel,
		closers: []func(){func() { uc.Close() }}}
	p.rd = rr
	go p.readNotify(ctx, uc, rr)
}

// lostRunLocked ends the run of a process that is gone without a status
// this binary can collect.
func (p *process) lostRunLocked(pid int) {
	p.pid, p.startTicks, p.lastPid, p.stop = 0, 0, pid, p.e.clock.Now()
	defer func() { p.lastPid = 0 }()
	if p.state == Stopping {
		p.setStateLocked(Stopped, false)
		return
	}
	p.exitStatus = 0
	p.lastExit = ExitInfo{Pid: pid, Code: -1, StartRetries: p.spec.StartRetries}
	p.setStateLocked(Exited, false)
	p.decideExitLocked(p.lastExit)
}

// Reap collects every child that has exited, at once, as a SIGCHLD would.
func (e *Engine) Reap() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reapLocked()
}
