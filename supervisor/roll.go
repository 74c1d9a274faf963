package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Rolling restarts (Engine.Roll, `tend restart --rolling`).
//
// The process table keeps one record per name. During a roll step an
// instance p gets a second record, its peer, which runs the other run of
// the same instance:
//
//	surge     p holds the old run (RUNNING, serving); p.peer holds the
//	          replacement, STARTING until it is RUNNING (and ready, with a
//	          ready option).
//	takeover  the two runs swap records (takeOverLocked): p now holds the
//	          replacement, still RUNNING under the same name with the new
//	          pid, and p.peer holds the old run.
//	retire    p.peer is stopped with the stopsignal and stopwaitsecs; once
//	          its process is gone it leaves p (p.peer = nil).
//
// The one rule that keeps this readable: a peer is a shadow and its state
// is private. Its changes publish no PROCESS_STATE event, enter no history
// and run no hook; its exit never restarts anything, counts no failure
// and ends nothing (no exit policy, no `essential`). Only the record under
// the name speaks for the instance, and in a surge step it stays RUNNING
// from start to end, so supervisorctl and XML-RPC see one name, RUNNING,
// throughout. The exception is TEND_PROCESS_READY: a replacement that
// becomes ready announces it, so on_ready runs for the new pid. Both runs
// write to the instance's log files.

// RollOptions shape a rolling restart.
type RollOptions struct {
	// MaxSurge is how many replacements may run next to the old runs at
	// a time: an instance rolled with a surge keeps serving until its
	// replacement is up. The doors default it to 1.
	MaxSurge int
	// MaxUnavailable is how many instances may be down at a time: an
	// instance rolled that way is stopped first and started again in
	// place (as restart does), which needs no extra room.
	MaxUnavailable int
	// Progress, if set, is called after each instance is done, one call
	// at a time, never with the engine locked.
	Progress func(RollStep)
}

// RollStep reports one instance done by a roll.
type RollStep struct {
	Name    string // namespec
	OldPid  int    // 0 when the instance was not running
	NewPid  int
	Ready   bool  // the program has a ready option and NewPid passed it
	InPlace bool  // the old run was stopped before the new one started
	Was     State // the state of the instance when its turn came
	Done    int   // instances done so far, this one included
	Total   int
}

// String describes the step as `tend restart --rolling` prints it:
// "web:web_03 new pid 1234 ready, old pid 1200 stopped (3/8)".
func (s RollStep) String() string {
	up := "running"
	if s.Ready {
		up = "ready"
	}
	var what string
	switch {
	case s.OldPid == 0:
		what = fmt.Sprintf("was %s, started: new pid %d %s", s.Was, s.NewPid, up)
	case s.InPlace:
		what = fmt.Sprintf("old pid %d stopped, new pid %d %s", s.OldPid, s.NewPid, up)
	default:
		what = fmt.Sprintf("new pid %d %s, old pid %d stopped", s.NewPid, up, s.OldPid)
	}
	return fmt.Sprintf("%s %s (%d/%d)", s.Name, what, s.Done, s.Total)
}

// RollError says where and why a roll stopped: the replacement of Name did
// not come up. Every instance not yet rolled keeps its old run.
type RollError struct {
	Name   string // namespec of the instance whose replacement failed
	Reason string // "exited too quickly (exit status 1)", "not ready after 2s", …
	Done   int    // instances rolled before the roll stopped
	Total  int
}

func (e *RollError) Error() string {
	return fmt.Sprintf("roll stopped at %s: the replacement %s (%d of %d instances rolled; the others keep their old run)",
		e.Name, e.Reason, e.Done, e.Total)
}

// roll is one rolling restart in progress; every instance it covers points
// to it (process.roll) so that Info can show it.
type roll struct {
	e     *Engine
	total int
	done  int // guarded by Engine.mu

	progressMu sync.Mutex // one Progress call at a time, in done order
	progress   func(RollStep)
}

// Roll restarts the processes t designates one by one without losing
// capacity: for each instance it starts a replacement next to the old run
// (a surge), waits until it is RUNNING — and ready, when the program has a
// ready option — then stops the old run with its stopsignal and
// stopwaitsecs. At most opts.MaxSurge replacements run next to old runs at
// a time, and at most opts.MaxUnavailable instances are down at a time
// (rolled in place: stopped, then started). The replacement keeps the
// instance's name; see the top of roll.go for how a name carries two runs.
//
// An instance that is not RUNNING when its turn comes is simply restarted
// (stopped if need be, then started); those not RUNNING when the roll
// begins go first, so a broken new version shows before any serving
// instance is touched.
//
// When a replacement does not come up (it exits, cannot be spawned, or is
// not ready within its ready timeout), the roll stops there: that
// replacement is stopped, replacements still starting are stopped too,
// every instance not yet rolled keeps its old run, and Roll returns a
// *RollError naming the instance and the reason. Ending ctx stops the roll
// the same way. A process whose name is already being rolled cannot be
// rolled again; eventlisteners are not rolled (a group or "all" skips
// them, naming one is an error).
func (e *Engine) Roll(ctx context.Context, t Target, opts RollOptions) error {
	if opts.MaxSurge < 0 || opts.MaxUnavailable < 0 || opts.MaxSurge+opts.MaxUnavailable == 0 {
		return fault(FaultBadArguments, fmt.Sprintf("max_surge (%d) and max_unavailable (%d) must be >= 0 and not both 0",
			opts.MaxSurge, opts.MaxUnavailable))
	}
	r, procs, err := e.beginRoll(t, opts.Progress)
	if err != nil {
		return err
	}
	defer e.endRoll(procs)
	return r.run(ctx, procs, opts)
}

// beginRoll marks the processes of t as rolled and returns them in roll
// order: those not RUNNING first, then config order.
func (e *Engine) beginRoll(t Target, progress func(RollStep)) (*roll, []*process, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shuttingDown {
		return nil, nil, fault(FaultShutdownState, "")
	}
	procs, err := e.targetLocked(t)
	if err != nil {
		return nil, nil, err
	}
	if !t.IsProcess() {
		procs = slices.DeleteFunc(procs, func(p *process) bool { return p.spec.Listener != nil })
	}
	for _, p := range procs {
		switch {
		case p.roll != nil:
			return nil, nil, fault(FaultFailed, p.spec.Namespec()+": a roll is already in progress")
		case p.spec.Listener != nil:
			return nil, nil, fault(FaultFailed, p.spec.Namespec()+": an eventlistener cannot be rolled")
		}
	}
	r := &roll{e: e, total: len(procs), progress: progress}
	for _, p := range procs {
		p.roll = r
	}
	slices.SortStableFunc(procs, func(a, b *process) int {
		switch ar, br := a.state == Running, b.state == Running; {
		case ar == br:
			return 0
		case br:
			return -1
		}
		return 1
	})
	return r, procs, nil
}

func (e *Engine) endRoll(procs []*process) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range procs {
		p.roll = nil
	}
}

// run rolls procs, each in a goroutine of its own holding a slot: a surge
// slot (preferred) or an unavailable slot. The first failure cancels the
// rest and is the result.
func (r *roll) run(ctx context.Context, procs []*process, opts RollOptions) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	surge := make(chan struct{}, opts.MaxSurge)
	down := make(chan struct{}, opts.MaxUnavailable)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, p := range procs {
		slot, inPlace, ok := acquireSlot(ctx, surge, down)
		if !ok {
			break
		}
		wg.Go(func() {
			defer func() { <-slot }()
			if err := r.step(ctx, p, inPlace); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		at := ""
		if re := (*RollError)(nil); errors.As(first, &re) {
			at = " at " + re.Name
		}
		return fmt.Errorf("roll interrupted%s after %d of %d instances: %w", at, r.doneCount(), r.total, err)
	}
	return first
}

// acquireSlot takes a surge slot if one is free, else waits for either
// kind; inPlace says an unavailable slot was taken. ok is false once ctx
// has ended.
func acquireSlot(ctx context.Context, surge, down chan struct{}) (slot chan struct{}, inPlace, ok bool) {
	if ctx.Err() != nil {
		return nil, false, false
	}
	select {
	case surge <- struct{}{}:
		return surge, false, true
	default:
	}
	select {
	case surge <- struct{}{}:
		return surge, false, true
	case down <- struct{}{}:
		return down, true, true
	case <-ctx.Done():
		return nil, false, false
	}
}

func (r *roll) doneCount() int {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.done
}

// step rolls one instance: with a surge when it is RUNNING and a surge
// slot was taken, else in place.
func (r *roll) step(ctx context.Context, p *process, inPlace bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.e.mu.Lock()
	was := p.state
	r.e.mu.Unlock()
	if was != Running || inPlace {
		return r.inPlace(ctx, p, was)
	}
	return r.surge(ctx, p)
}

// finish counts an instance as done and reports it.
func (r *roll) finish(s RollStep) {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.e.mu.Lock()
	r.done++
	s.Done, s.Total = r.done, r.total
	r.e.mu.Unlock()
	if r.progress != nil {
		r.progress(s)
	}
}

func (r *roll) failure(p *process, reason string) *RollError {
	return &RollError{Name: p.spec.Namespec(), Reason: reason, Done: r.doneCount(), Total: r.total}
}

// surge starts a replacement next to p's serving run, hands p over to it
// once it is up, and waits until the old run has stopped.
func (r *roll) surge(ctx context.Context, p *process) error {
	e := r.e
	e.mu.Lock()
	oldPid := p.pid
	s, err := p.startSuccessorLocked()
	e.mu.Unlock()
	if err != nil {
		return r.failure(p, "could not be spawned: "+err.Error())
	}
	e.waitFor(ctx, s, func(st State) bool { return st != Starting })
	e.mu.Lock()
	if s.state == Running && p.state == Running && p.peer == s {
		p.takeOverLocked(s)
		step := RollStep{Name: p.spec.Namespec(), OldPid: oldPid, NewPid: p.pid, Ready: p.rd != nil && p.rd.ready, Was: Running}
		e.mu.Unlock()
		// Not bounded by ctx: the old run is being stopped whatever
		// happens, and the slot is held until it is gone.
		e.waitFor(context.Background(), s, State.IsStopped)
		// A new run that passed its check and died at once would let
		// the roll go through the whole pool: it must still be up.
		e.mu.Lock()
		why := p.goneSinceLocked(step.NewPid)
		e.mu.Unlock()
		if why != "" {
			return r.failure(p, fmt.Sprintf("took over as pid %d, then %s", step.NewPid, why))
		}
		r.finish(step)
		return nil
	}
	reason := s.failureLocked(ctx, p)
	s.requestStopLocked()
	e.mu.Unlock()
	e.waitFor(context.Background(), s, State.IsStopped)
	return r.failure(p, reason)
}

// goneSinceLocked says how the run pid of p ended or left RUNNING, or ""
// if it is still p's run and RUNNING. p then goes on by its own rules
// (autorestart, backoff).
func (p *process) goneSinceLocked(pid int) string {
	switch {
	case p.pid == pid && p.state == Running:
		return ""
	case p.pid == pid:
		return "left RUNNING (" + p.spec.Namespec() + " is " + p.state.String() + ")"
	}
	// It may have been restarted since: its exit is in the history.
	h := p.e.history.list()
	for i := len(h) - 1; i >= 0; i-- {
		if c := h[i]; c.Pid == pid && c.To == Exited && c.Reason != "" {
			return "exited (" + c.Reason + ")"
		}
	}
	return "exited"
}

// failureLocked says why the replacement s of p did not take over.
func (s *process) failureLocked(ctx context.Context, p *process) string {
	switch {
	case s.state == Exited || s.state == Fatal:
		return s.spawnErr
	case s.state == Stopped || s.state == Stopping:
		return "was stopped: " + p.spec.Namespec() + " was stopped during the roll"
	case p.state != Running:
		return fmt.Sprintf("was stopped: the old run left RUNNING during the roll (%s is %s)", p.spec.Namespec(), p.state)
	case ctx.Err() != nil:
		return "was stopped: the roll was interrupted (" + context.Cause(ctx).Error() + ")"
	}
	return "did not take over (" + s.state.String() + ")"
}

// inPlace restarts p as restart does: stop (if running), then start and
// wait until it is RUNNING (and ready). Once begun it runs to its end
// whatever ctx says, so that it never leaves the instance down halfway.
func (r *roll) inPlace(ctx context.Context, p *process, was State) error {
	e := r.e
	ctx = context.WithoutCancel(ctx)
	t := Target{Group: p.spec.Group, Process: p.spec.Name}
	e.mu.Lock()
	oldPid := p.pid
	e.mu.Unlock()
	if _, err := e.Stop(ctx, t, true); err != nil {
		return r.failure(p, "could not stop the old run: "+err.Error())
	}
	rs, err := e.Start(ctx, t, true)
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		reason := err.Error()
		if info, ierr := e.Info(p.spec.Namespec()); ierr == nil && info.SpawnErr != "" {
			reason = info.SpawnErr
		}
		e.Stop(ctx, t, true) // the failed replacement: BACKOFF would retry it
		return r.failure(p, "failed to start: "+reason)
	}
	e.mu.Lock()
	step := RollStep{Name: p.spec.Namespec(), OldPid: oldPid, NewPid: p.pid, Ready: p.rd != nil && p.rd.ready, InPlace: true, Was: was}
	e.mu.Unlock()
	r.finish(step)
	return nil
}

// startSuccessorLocked spawns the replacement of p's run as p's peer, a
// shadow record sharing p's spec and log files (see the top of roll.go).
func (p *process) startSuccessorLocked() (*process, error) {
	switch {
	case p.e.shuttingDown:
		return nil, fault(FaultShutdownState, "")
	case p.peer != nil:
		return nil, fmt.Errorf("the previous replacement of %s (pid %d) is still stopping", p.spec.Namespec(), p.peer.pid)
	}
	if err := p.checkCommandLocked(); err != nil {
		return nil, err
	}
	// An adopted run never opened the logs: open them now so that both
	// runs share one File per log (one writer, one rotation).
	if err := p.openLogsLocked(); err != nil {
		return nil, err
	}
	s := &process{e: p.e, spec: p.spec, cmdPath: p.cmdPath, stdout: p.stdout, stderr: p.stderr, shadowOf: p}
	p.peer = s
	s.everStart = true
	s.setStateLocked(Starting, false)
	if err := s.spawnLocked(); err != nil {
		s.spawnErr = err.Error()
		s.setStateLocked(Fatal, false)
		p.peer = nil
		return nil, err
	}
	if s.spec.StartSecs <= 0 {
		s.enterRunningLocked()
	} else {
		s.afterLocked(s.spec.StartSecs, s.enterRunningLocked)
	}
	return s, nil
}

// takeOverLocked swaps the runs of p and its replacement s: p keeps its
// name, state (RUNNING) and counters with the new run; s gets the old run
// and is told to stop.
func (p *process) takeOverLocked(s *process) {
	p.pid, s.pid = s.pid, p.pid
	p.startTicks, s.startTicks = s.startTicks, p.startTicks
	p.start, s.start = s.start, p.start
	p.stdin, s.stdin = s.stdin, p.stdin
	p.rd, s.rd = s.rd, p.rd
	p.statusText, s.statusText = s.statusText, p.statusText
	p.adopted, s.adopted = s.adopted, p.adopted
	for _, q := range []*process{p, s} {
		q.bumpLocked() // timers and answers armed for the other run
		if q.adopted == nil {
			p.e.byPid[q.pid] = q
		}
	}
	if s.adopted != nil {
		// The exit watch armed by Recover looks at p: watch for s too.
		s.watchAdoptedLocked(s.adopted)
	}
	// The probe and watchdog follow the name: the serving run is checked,
	// the old one, now stopping, no longer is.
	s.stopHealthLocked()
	p.stopHealthLocked()
	p.startHealthLocked()
	p.backoff = 0
	p.memAbove = time.Time{}
	p.restarts++
	p.watchMemoryLocked()
	p.e.stateChangedLocked()
	p.wakeLocked()
	p.logf(slog.LevelInfo, "rolled: '%s' is now pid %d, stopping its old pid %d", p.spec.Name, p.pid, s.pid)
	s.requestStopLocked()
}

// shadowExitedLocked handles the exit of a peer's run: the old run
// stopped, or a replacement failed. Nothing restarts it; the reason stays
// in spawnErr for the roll.
func (p *process) shadowExitedLocked(ei ExitInfo, how string, notReady bool) {
	switch p.state {
	case Stopping:
		p.logf(slog.LevelInfo, "stopped: %s (old pid %d; %s)", p.spec.Name, ei.Pid, how)
		p.lingeringGroupKillLocked(ei.Pid)
		p.setStateLocked(Stopped, false)
	case Starting:
		p.spawnErr = "exited too quickly (" + how + ")"
		if notReady {
			p.spawnErr = "was not ready after " + FormatReadyTimeout(p.spec.Ready.timeout())
		}
		p.logf(slog.LevelWarn, "exited: %s replacement pid %d (%s; not expected)", p.spec.Name, ei.Pid, how)
		p.setStateLocked(Exited, false)
	default:
		p.spawnErr = "exited (" + how + ")"
		p.logf(slog.LevelWarn, "exited: %s replacement pid %d (%s; not expected)", p.spec.Name, ei.Pid, how)
		p.setStateLocked(Exited, false)
	}
	p.leaveOwnerLocked()
}

// leaveOwnerLocked detaches a peer whose process is gone from its owner.
func (p *process) leaveOwnerLocked() {
	o := p.shadowOf
	if o.peer != p {
		return
	}
	o.peer = nil
	for i := range p.drops {
		o.drops[i].total.Add(p.drops[i].total.Load())
	}
	o.wakeLocked()
}
