package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/tend-sh/tend/supervisor/logfile"
)

const tooQuick = "Exited too quickly (process log may have details)"

// process is one supervised process. Every field is guarded by Engine.mu.
type process struct {
	e    *Engine
	spec Spec
	// cmdPath caches where Command[0] was found; reset with the spec.
	cmdPath string
	// startTicks is the start time of the running process in /proc (clock
	// ticks since boot), recorded in the state file; adopted is set for a
	// process left running by a previous engine (see Recover).
	startTicks uint64
	adopted    *adoption
	// drops counts the output the stdout (0) and stderr (1) logs could not
	// take; the pump writes it without Engine.mu.
	drops [2]logDrops

	state      State
	pid        int
	start      time.Time // last spawn
	stop       time.Time // last exit
	exitStatus int
	spawnErr   string
	backoff    int // failed starts in a row (supervisord's "tries")
	restarts   int
	removed    bool
	everStart  bool
	// userStopped is set by a stop request and cleared by a start: a reload
	// leaves such a process stopped.
	userStopped bool
	killSent    bool
	stopAt      time.Time // when the current stop request began
	// spawnErrIsExit marks a spawn failure supervisord would report as the
	// child exiting 127 (bad directory) rather than as a spawn error.
	spawnErrIsExit bool
	// lastExit is the last exit (or spawn failure, Code -1 and no Signal),
	// reported with EXITED, BACKOFF and TEND_PROCESS_DONE events.
	lastExit ExitInfo
	// failures are the times of the failures start_limit counts, within
	// its interval; limitReason is why a limit last acted ("" if none).
	failures    []time.Time
	limitReason string
	// memAbove is when the tree went above max_memory (zero: it is not);
	// restartAfterStop starts p again when the stop max_memory asked for
	// is done; memoryRestarts counts those restarts.
	memAbove         time.Time
	restartAfterStop bool
	memoryRestarts   int
	// stopReason is why the engine itself asked for the next STOPPING, for
	// the history.
	stopReason string

	// gen invalidates timers and policy answers: every transition bumps it,
	// and a callback carrying an older gen does nothing.
	gen uint64
	// stopTimer cancels the pending timer (startsecs, backoff, stopwaitsecs
	// or a delayed restart); nil when none is armed. timerAt is when it
	// fires, for a re-exec to arm it again (handoff.go).
	stopTimer func() bool
	timerAt   time.Time
	// askGen is the gen of the last policy call, and asking says its
	// answer has not come yet: a re-exec asks again in the new binary.
	askGen uint64
	asking bool
	// changed is closed (and replaced) at every state change when someone
	// waits on it; nil when nobody does.
	changed chan struct{}

	stdout, stderr *logfile.File
	stdin          *os.File
	// outR and errR are the read ends of the current run's output pipes,
	// owned by the pump (or a capture goroutine); kept for a re-exec.
	// resumePartial seeds the framers of a run a re-exec carried.
	outR, errR    *os.File
	resumePartial [2][]byte
	// pool is the eventlistener pool of a listener program, and listener
	// the protocol side of its current run (nil when not running).
	pool      *pool
	listener  *listener
	lastPid   int    // the pid of the run that just ended, for EXITED/STOPPED events
	onRemoved func() // run once the process has stopped after removal

	// rd is the readiness of the current run (nil without a ready option
	// or when not running); statusText is the last STATUS= it sent and
	// notifyRejected counts notify datagrams from senders not believed.
	rd             *readyRun
	statusText     string
	notifyRejected int

	// The requires option (deps.go): waiting marks a start asked for that
	// waits for p's requirements, stopHeld a stop asked for that waits for
	// p's dependents to stop, and finished a run that ended for good
	// (TEND_PROCESS_DONE), which the completed conditions look for.
	waiting, stopHeld, finished bool
	// probe and wd are the liveness checks of the current RUNNING period
	// (nil when none). dying is why the engine is killing the current run
	// as unhealthy (zero when it is not); killReason is the reason of the
	// last such kill after RUNNING, kept until a start is asked for.
	probe      *probeRun
	wd         *watchdogRun
	dying      unhealthyKill
	killReason string
	// peer is the instance's other run during a step of a rolling
	// restart: the replacement starting next to the serving run, then,
	// after the takeover, the old run being stopped. shadowOf is set on
	// such a peer, pointing to the record under the name; a shadow's state
	// is private (roll.go). roll is the roll covering the instance.
	peer     *process
	shadowOf *process
	roll     *roll
}

func (p *process) infoLocked(now time.Time) Info {
	i := Info{
		Name: p.spec.Name, Group: p.spec.Group, Program: p.spec.Program, Num: p.spec.Num,
		State: p.state, Pid: p.pid, Start: p.start, Stop: p.stop, Now: now,
		ExitStatus: p.exitStatus, ExitSignal: p.lastExit.Signal, LimitReason: p.limitReason,
		StartFailures: len(p.failures), MemoryRestarts: p.memoryRestarts, SpawnErr: p.spawnErr, Restarts: p.restarts,
		Priority: p.spec.Priority, GroupPriority: p.spec.GroupPriority,
		AutoStart: p.spec.AutoStart, Essential: p.spec.Essential, InUse: !p.removed, Adopted: p.adopted != nil,
		DroppedStdout: p.drops[0].total.Load(), DroppedStderr: p.drops[1].total.Load(),
		StatusText: p.statusText, NotifyRejected: p.notifyRejected, Ready: p.rd != nil && p.rd.ready,
	}
	if len(p.spec.Requires) > 0 {
		i.Requires, i.Waiting = p.e.requiresInfoLocked(p)
	}
	p.healthInfoLocked(&i, now)
	if p.roll != nil {
		i.Rolling, i.RollDone, i.RollTotal = true, p.roll.done, p.roll.total
	}
	if p.stdout != nil {
		i.StdoutLogfile = p.stdout.Path()
	}
	if p.stderr != nil {
		i.StderrLogfile = p.stderr.Path()
	}
	return i
}

// setStateLocked moves p to state to, publishes the PROCESS_STATE event and
// wakes waiters. Every pending timer or policy answer becomes stale.
func (p *process) setStateLocked(to State, expected bool) {
	if p.shadowOf != nil {
		// A roll's peer: its state is private (roll.go). Its owner's
		// waiters are woken too, as they may wait for the peer to go.
		p.state = to
		p.bumpLocked()
		p.wakeLocked()
		p.shadowOf.wakeLocked()
		return
	}
	from := p.state
	p.state = to
	p.bumpLocked()
	pid := p.pid
	if pid == 0 && (to == Exited || to == Stopped) {
		pid = p.lastPid
	}
	ev := Event{
		Type: EventProcessState, Time: p.e.clock.Now(), Process: p.spec.Name, Group: p.spec.Group,
		From: from, To: to, Tries: p.backoff, Pid: pid, Expected: expected,
	}
	if to == Exited || to == Backoff || to == Fatal {
		ev.ExitCode, ev.Signal = p.lastExit.Code, p.lastExit.Signal
	}
	if to == Exited {
		ev.Reason, ev.Cause = p.lastExit.Reason, p.lastExit.cause
	}
	if p.listener != nil {
		p.listener.pool.setRunning(p.listener, to == Running)
	}
	p.recordLocked(ev)
	p.e.bus.Publish(ev)
	p.wakeLocked()
	p.e.depsChangedLocked()
}

// bumpLocked cancels the pending timer and invalidates pending callbacks.
func (p *process) bumpLocked() {
	p.gen++
	if p.stopTimer != nil {
		p.stopTimer()
		p.stopTimer = nil
	}
}

// afterLocked runs f (with Engine.mu held) after d unless p changes first.
func (p *process) afterLocked(d time.Duration, f func()) {
	gen := p.gen
	if p.stopTimer != nil {
		p.stopTimer()
	}
	p.timerAt = p.e.clock.Now().Add(d)
	p.stopTimer = p.e.clock.AfterFunc(d, func() {
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if p.gen == gen {
			p.stopTimer = nil
			f()
		}
	})
}

func (p *process) logf(level slog.Level, format string, args ...any) {
	p.e.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

// startLocked spawns p and handles a spawn failure as supervisord does:
// BACKOFF with the error as description.
func (p *process) startLocked() error {
	p.bumpLocked()
	p.everStart = true
	p.finished = false
	p.dying = unhealthyKill{}
	p.setStateLocked(Starting, false)
	err := p.spawnLocked()
	if err != nil && p.spawnErrIsExit {
		// The failure happened "in the child" as supervisord sees it.
		p.spawnErrIsExit = false
		p.exitStatus, p.stop = 127, p.e.clock.Now()
		// supervisord's child reports this on its stderr only; say it in
		// status and the main log too, where a user looks first.
		p.spawnErr = err.Error()
		p.logf(slog.LevelInfo, "spawnerr: %s", p.spawnErr)
		p.logf(slog.LevelWarn, "exited: %s (exit status 127; not expected)", p.spec.Name)
		p.lastExit = ExitInfo{Code: 127, StartRetries: p.spec.StartRetries}
		p.failedStartLocked(p.lastExit)
		return fault(FaultSpawnError, p.spec.Namespec())
	}
	if err != nil {
		p.spawnErr = err.Error()
		p.logf(slog.LevelInfo, "spawnerr: %s", p.spawnErr)
		p.lastExit = ExitInfo{Code: -1, StartRetries: p.spec.StartRetries}
		p.failedStartLocked(p.lastExit)
		return fault(FaultSpawnError, p.spec.Namespec())
	}
	p.spawnErr = ""
	if p.spec.StartSecs <= 0 {
		p.enterRunningLocked()
		return nil
	}
	p.afterLocked(p.spec.StartSecs, p.enterRunningLocked)
	return nil
}

func (p *process) enterRunningLocked() {
	if p.state != Starting || p.dying.cause != "" || !p.readyStartsecsLocked() {
		return // a start being killed as unhealthy never becomes RUNNING
	}
	p.backoff = 0
	p.memAbove = time.Time{}
	p.setStateLocked(Running, false)
	p.watchMemoryLocked()
	p.startHealthLocked()
	p.logf(slog.LevelInfo, "success: %s entered RUNNING state, process has stayed up for > than %s seconds (startsecs)",
		p.spec.Name, formatSecs(p.spec.StartSecs))
}

func formatSecs(d time.Duration) string {
	return fmt.Sprint(d.Seconds())
}

// exitedLocked handles the reaped exit of p's child.
func (p *process) exitedLocked(ws syscall.WaitStatus) {
	now := p.e.clock.Now()
	pid := p.pid
	p.e.forgetPidLocked(pid)
	p.pid, p.startTicks = 0, 0
	p.e.stateChangedLocked()
	p.lastPid = pid
	defer func() { p.lastPid = 0 }()
	p.stop = now
	dying := p.dying
	p.dying = unhealthyKill{}
	p.stopHealthLocked()
	p.endReadyLocked()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	if p.listener != nil {
		p.listener.pool.detach(p.listener)
		p.listener = nil
	}
	ei := ExitInfo{Pid: pid, Code: ws.ExitStatus(), Uptime: now.Sub(p.start), StartRetries: p.spec.StartRetries}
	how := fmt.Sprintf("exit status %d", ei.Code)
	if ws.Signaled() {
		ei.Signal = ws.Signal()
		ei.Code = -1
		how = "terminated by SIG" + SignalName(ei.Signal)
	}
	p.exitStatus = max(ei.Code, 0)
	p.lastExit = ei
	if p.shadowOf != nil {
		p.shadowExitedLocked(ei, how, dying.cause == causeReady)
		return
	}
	if p.state == Stopping {
		level := slog.LevelWarn
		if !ws.Signaled() && p.spec.expectedExit(ei.Code) {
			level = slog.LevelInfo
		}
		p.logf(level, "stopped: %s (%s)", p.spec.Name, how)
		p.lingeringGroupKillLocked(pid)
		p.setStateLocked(Stopped, false)
		p.afterStopLocked()
		p.afterMemoryStopLocked()
		return
	}
	tooFast := p.state == Starting
	// A run the engine killed as unhealthy never exits as expected,
	// whatever its code.
	ei.Expected = !tooFast && dying.cause == "" && !ws.Signaled() && p.spec.expectedExit(ei.Code)
	ei.Reason, ei.cause = dying.reason, dying.cause
	p.lastExit = ei
	level, word := slog.LevelWarn, "not expected"
	if ei.Expected {
		level, word = slog.LevelInfo, "expected"
	}
	if dying.reason != "" {
		word += ": " + dying.reason
	}
	p.logf(level, "exited: %s (%s; %s)", p.spec.Name, how, word)
	if reason, ok := p.permanentExit(ei); ok {
		if tooFast {
			p.backoff++
			p.setStateLocked(Backoff, false)
		} else {
			p.backoff = 0
			p.setStateLocked(Exited, false)
		}
		p.limitFatalLocked(reason)
		return
	}
	if tooFast {
		p.spawnErr = tooQuick
		if dying.reason != "" {
			p.spawnErr = dying.reason // "not ready after 60s"
		}
		p.failedStartLocked(ei)
		return
	}
	p.backoff = 0
	p.setStateLocked(Exited, ei.Expected)
	p.decideExitLocked(ei)
}

// lingeringGroupKillLocked keeps the promise of killasgroup when the leader
// exits before stopwaitsecs while other members of its group ignore the stop
// signal: the group still gets SIGKILL at the deadline.
func (p *process) lingeringGroupKillLocked(pgid int) {
	if !p.spec.KillAsGroup || p.killSent || syscall.Kill(-pgid, 0) != nil {
		return
	}
	clock := p.e.clock
	deadline := p.stopAt.Add(p.spec.StopWait).Sub(clock.Now())
	name := p.spec.Name
	log := p.e.log
	clock.AfterFunc(max(deadline, 0), func() {
		if syscall.Kill(-pgid, 0) == nil {
			log.Warn(fmt.Sprintf("killing '%s' process group %d with SIGKILL", name, pgid))
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
	})
}

// failedStartLocked handles a start that failed (exit within startsecs or
// spawn error): BACKOFF, then another try after a delay, or FATAL.
func (p *process) failedStartLocked(ei ExitInfo) {
	p.backoff++
	ei.Attempt = p.backoff
	ei.StartRetries = p.spec.StartRetries
	p.setStateLocked(Backoff, false)
	if reason, trip := p.noteFailureLocked(); trip {
		p.limitFatalLocked(reason)
		return
	}
	if p.backoff > p.spec.StartRetries {
		p.giveUpLocked()
		return
	}
	p.scheduleRetryLocked(ei)
}

// scheduleRetryLocked arms the next try of a process in BACKOFF, after the
// delay its on_backoff policy chooses (or supervisord's linear one).
func (p *process) scheduleRetryLocked(ei ExitInfo) {
	def := time.Duration(p.backoff) * time.Second
	if p.spec.Policy == nil {
		p.afterLocked(def, p.retryLocked)
		return
	}
	pol, info := p.spec.Policy, p.infoLocked(p.e.clock.Now())
	p.askLocked(func(ctx context.Context) (func(), error) {
		d, err := pol.OnBackoff(ctx, info, ei)
		if err != nil {
			return nil, err
		}
		return func() {
			switch {
			case d.GiveUp:
				p.giveUpLocked()
			case d.Default:
				p.afterLocked(def, p.retryLocked)
			default:
				p.afterLocked(max(d.Delay, 0), p.retryLocked)
			}
		}, nil
	}, func() { p.afterLocked(def, p.retryLocked) })
}

func (p *process) retryLocked() {
	if p.state == Backoff {
		p.startLocked()
	}
}

func (p *process) giveUpLocked() {
	p.setStateLocked(Fatal, false)
	p.logf(slog.LevelInfo, "gave up: %s entered FATAL state, too many start retries too quickly", p.spec.Name)
	p.doneLocked()
}

// doneLocked publishes TEND_PROCESS_DONE: p ended on its own and nothing
// will start it again unless asked (the exit policy of container mode
// watches for it).
func (p *process) doneLocked() {
	p.finished = true
	p.e.depsChangedLocked()
	p.e.bus.Publish(Event{
		Type: EventProcessDone, Time: p.e.clock.Now(), Process: p.spec.Name, Group: p.spec.Group,
		To: p.state, Pid: p.lastPid, Expected: p.lastExit.Expected,
		ExitCode: p.lastExit.Code, Signal: p.lastExit.Signal,
	})
}

// decideExitLocked applies the restart rule after a RUNNING process exited.
func (p *process) decideExitLocked(ei ExitInfo) {
	if p.spec.Policy == nil {
		p.defaultExitLocked(ei)
		return
	}
	pol, info := p.spec.Policy, p.infoLocked(p.e.clock.Now())
	p.askLocked(func(ctx context.Context) (func(), error) {
		d, err := pol.OnExit(ctx, info, ei)
		if err != nil {
			return nil, err
		}
		return func() {
			switch d.Action {
			case ActionStop:
				p.doneLocked()
			case ActionRestart:
				if d.Delay <= 0 {
					p.restartLocked()
				} else {
					p.afterLocked(d.Delay, p.restartLocked)
				}
			default:
				p.defaultExitLocked(ei)
			}
		}, nil
	}, func() { p.defaultExitLocked(ei) })
}

func (p *process) defaultExitLocked(ei ExitInfo) {
	switch {
	case p.spec.AutoRestart == RestartAlways, p.spec.AutoRestart == RestartUnexpected && !ei.Expected:
		p.restartLocked()
	default:
		p.doneLocked()
	}
}

func (p *process) restartLocked() {
	if p.state != Exited || p.e.shuttingDown || p.removed {
		return
	}
	if !p.lastExit.Expected {
		if reason, trip := p.noteFailureLocked(); trip {
			p.limitFatalLocked(reason)
			return
		}
	}
	p.restarts++
	p.startLocked()
}

// askLocked runs a policy call on its own goroutine under the spec's hook
// timeout. Its answer is applied with Engine.mu held if p has not changed
// meanwhile; on error or when the deadline passes first, fallback runs. A
// timer covers the deadline even if the policy ignores its context.
func (p *process) askLocked(call func(context.Context) (func(), error), fallback func()) {
	gen := p.gen
	p.askGen, p.asking = gen, true
	timeout := p.spec.HookTimeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	name, source := p.spec.Name, p.spec.Source
	settled := false
	var stopCover func() bool
	settle := func(apply func(), err error) {
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if settled {
			return
		}
		settled = true
		if p.askGen == gen {
			p.asking = false
		}
		stopCover() // an answered hook leaves no timer behind
		if p.gen != gen {
			return // p moved on: the answer is stale
		}
		if err != nil {
			p.e.log.Error(fmt.Sprintf("hook for %s failed (%s), applying the default rule: %v", name, source, err))
			fallback()
			return
		}
		apply()
	}
	// The context's deadline is real time: it bounds real work in the
	// policy. The covering timer is the engine's, so it uses the clock.
	stopCover = p.e.clock.AfterFunc(timeout+50*time.Millisecond, func() {
		settle(nil, fmt.Errorf("no answer within %s", timeout))
	})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		apply, err := safeCall(ctx, call)
		settle(apply, err)
	}()
}

// safeCall runs call and turns a panic into an error: a policy can never
// crash the daemon.
func safeCall(ctx context.Context, call func(context.Context) (func(), error)) (apply func(), err error) {
	defer func() {
		if r := recover(); r != nil {
			apply, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return call(ctx)
}

// requestStopLocked begins stopping p as a stop request does.
func (p *process) requestStopLocked() error {
	if p.peer != nil {
		// A replacement a roll is starting goes with the instance (an old
		// run already stopping just carries on).
		p.peer.requestStopLocked()
	}
	switch p.state {
	case Backoff:
		p.setStateLocked(Stopped, false)
		p.afterStopLocked()
		return nil
	case Running, Starting:
		p.stopHealthLocked()
		p.dying = unhealthyKill{} // a stop asked for wins: its exit is a stop
	case Stopping:
		// Already stopping (another client asked first): NOT_RUNNING, as
		// supervisord answers, and the first stop's SIGKILL stays armed.
		return fault(FaultNotRunning, p.spec.Namespec())
	default:
		p.bumpLocked() // cancel a delayed restart a policy may have scheduled
		return fault(FaultNotRunning, p.spec.Namespec())
	}
	p.stopAt = p.e.clock.Now()
	p.killSent = false
	sig := p.spec.StopSignal
	if p.e.shuttingDown && p.e.shutdownSignal != 0 {
		sig = p.e.shutdownSignal
	}
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if p.spec.StopAsGroup {
		p.logf(slog.LevelDebug, "killing %s (pid %d) process group with signal SIG%s", p.spec.Name, p.pid, SignalName(sig))
	} else {
		p.logf(slog.LevelDebug, "killing %s (pid %d) with signal SIG%s", p.spec.Name, p.pid, SignalName(sig))
	}
	p.sendLocked(sig, p.spec.StopAsGroup)
	p.setStateLocked(Stopping, false)
	p.afterLocked(p.spec.StopWait, p.killLocked)
	return nil
}

// killLocked escalates a stop that outlived stopwaitsecs.
func (p *process) killLocked() {
	if p.state != Stopping || p.pid == 0 {
		return
	}
	p.killSent = true
	if p.e.shuttingDown {
		p.e.killedInShutdown = append(p.e.killedInShutdown, p.spec.Namespec())
	}
	p.logf(slog.LevelWarn, "killing '%s' (%d) with SIGKILL", p.spec.Name, p.pid)
	p.sendLocked(syscall.SIGKILL, p.spec.KillAsGroup)
}

// afterStopLocked finishes a stop: a removed process leaves the table.
func (p *process) afterStopLocked() {
	if p.removed && p.onRemoved != nil {
		f := p.onRemoved
		p.onRemoved = nil
		f()
	}
}
