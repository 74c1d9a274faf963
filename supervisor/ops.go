package supervisor

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Start starts the processes t designates. With wait it blocks until each
// is RUNNING or failed to get there (SPAWN_ERROR, ABNORMAL_TERMINATION), as
// supervisord's startProcess does. A group or "all" skips processes that
// are already running (autostart=false ones are started too).
//
// Like every operation on a Target it returns one Result per process acted
// on, in config order (group priority, then process priority and name),
// whatever order they finish in; the error is for the target as a whole
// (BAD_NAME, SHUTDOWN_STATE). A one-process target always gets exactly one
// Result, whose Err is what supervisord's startProcess would raise.
//
// Start also starts what the processes require first (deps.go): a process
// whose requirements do not hold yet waits for them (with wait, Start waits
// through that too), and a waiting process counts as started.
func (e *Engine) Start(ctx context.Context, t Target, wait bool) ([]Result, error) {
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		return nil, fault(FaultShutdownState, "")
	}
	procs, err := e.targetLocked(t)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	b := newBatch(procs)
	index := make(map[*process]int, len(procs))
	for i, p := range procs {
		index[p] = i
	}
	held := time.Now()
	for _, p := range e.byLevelLocked(procs, false) { // what others require first
		down := e.yieldLocked(&held) || e.shuttingDown // `start all` of thousands lets others in
		switch i := index[p]; {
		case down:
			b.done(i, fault(FaultShutdownState, ""))
		case p.removed:
			b.done(i, fault(FaultBadName, p.spec.Namespec()))
		case !t.IsProcess() && (p.state.IsRunning() || p.waiting):
			b.skip(i)
		default:
			b.done(i, e.startLocked(p))
		}
	}
	e.mu.Unlock()
	return b.wait(func(p *process) error {
		if !wait {
			return nil
		}
		return e.waitStarted(ctx, p)
	}), nil
}

// StartProcess starts one process by name ("name" or "group:name"); it is
// Start of a one-process target, returning supervisord's startProcess
// fault as an error.
func (e *Engine) StartProcess(ctx context.Context, name string, wait bool) error {
	return e.one(name, func(t Target) ([]Result, error) { return e.Start(ctx, t, wait) })
}

// one runs op on the one-process target name and returns its error. A name
// designating a group or "all" gives BAD_NAME.
func (e *Engine) one(name string, op func(Target) ([]Result, error)) error {
	t := ParseTarget(name)
	if !t.IsProcess() {
		return fault(FaultBadName, name)
	}
	rs, err := op(t)
	if err != nil {
		return err
	}
	return rs[0].Err
}

func (e *Engine) startLocked(p *process) error {
	switch {
	case p.state.IsRunning():
		return fault(FaultAlreadyStarted, p.spec.Namespec())
	case p.state == Stopping, p.waiting:
		return fault(FaultAlreadyStarted, p.spec.Namespec())
	}
	if err := p.checkCommandLocked(); err != nil {
		return err
	}
	p.userStopped = false
	p.backoff = 0
	p.failures, p.limitReason = nil, "" // a start asked for is a fresh start
	p.killReason = ""
	return e.launchLocked(p)
}

func (e *Engine) waitStarted(ctx context.Context, p *process) error {
	// waitFor calls its test with Engine.mu held: p.waiting may be read.
	st := e.waitFor(ctx, p, func(s State) bool { return s != Starting && !p.waiting })
	switch st {
	case Running:
		return nil
	case Backoff, Fatal:
		return fault(FaultSpawnError, p.spec.Namespec())
	case Starting:
		return ctx.Err()
	}
	return fault(FaultAbnormalTermination, p.spec.Namespec())
}

// Stop stops the processes t designates: their stopsignal, then SIGKILL
// after stopwaitsecs. A group or "all" acts on its running processes and
// signals them all at once ("all" in ascending priority, as supervisord's
// stopAllProcesses; a group in reverse order); a single process that is not
// running gives NOT_RUNNING. With wait it blocks until each has stopped.
// Results are in config order, as for Start.
//
// What requires a stopped process is stopped first (deps.go): the running
// dependents are stopped too, and a process's stop waits until its
// dependents have stopped. A process waiting for its requirements just
// stops waiting. Results name the processes t designates only.
func (e *Engine) Stop(ctx context.Context, t Target, wait bool) ([]Result, error) {
	rs, _, err := e.stop(ctx, t, wait)
	return rs, err
}

// stop is Stop; it also returns the dependents it stopped beyond t.
func (e *Engine) stop(ctx context.Context, t Target, wait bool) ([]Result, []*process, error) {
	e.mu.Lock()
	procs, err := e.targetLocked(t)
	if err != nil {
		e.mu.Unlock()
		return nil, nil, err
	}
	b := newBatch(procs)
	order := make([]int, 0, len(procs))
	for i, p := range procs {
		if t.IsProcess() || p.state.IsRunning() || p.waiting {
			order = append(order, i)
		}
	}
	if !t.All {
		slices.Reverse(order) // a group stops in reverse order; "all" as supervisord
	}
	acted := make([]*process, len(order))
	for j, i := range order {
		acted[j] = procs[i]
	}
	all, extra := e.withDependentsLocked(acted)
	for _, d := range extra {
		d.logf(slog.LevelInfo, "stopping: %s too, as it requires what is being stopped", d.spec.Name)
	}
	for _, p := range all {
		p.userStopped = true
	}
	outcome := e.stopInOrderLocked(all)
	for _, i := range order {
		b.done(i, outcome[procs[i]])
	}
	e.mu.Unlock()
	if wait {
		for _, d := range extra {
			e.waitFor(ctx, d, State.IsStopped)
		}
	}
	return b.wait(func(p *process) error {
		if !wait {
			return nil
		}
		e.waitFor(ctx, p, State.IsStopped)
		return ctx.Err()
	}), extra, nil
}

// StopProcess stops one process by name; it is Stop of a one-process
// target, returning supervisord's stopProcess fault as an error.
func (e *Engine) StopProcess(ctx context.Context, name string, wait bool) error {
	return e.one(name, func(t Target) ([]Result, error) { return e.Stop(ctx, t, wait) })
}

// Restart stops the processes t designates and starts them again, waiting
// for each stop to finish (and, with wait, for each start), as
// supervisorctl's restart does. A process that was not running gets a
// NOT_RUNNING stop result and is started all the same.
//
// The dependents the stop took down with t (see Stop) are started again
// after t, without waiting for them.
func (e *Engine) Restart(ctx context.Context, t Target, wait bool) (stopped, started []Result, err error) {
	stopped, extra, err := e.stop(ctx, t, true)
	if err != nil {
		return nil, nil, err
	}
	started, err = e.Start(ctx, t, wait)
	e.mu.Lock()
	for _, d := range extra {
		if d.state.IsStopped() && !d.removed && !e.shuttingDown {
			e.startLocked(d)
		}
	}
	e.mu.Unlock()
	return stopped, started, err
}

// Signal sends sig to the processes t designates. A group or "all" signals
// its RUNNING, STARTING and STOPPING processes; a single process in another
// state gives NOT_RUNNING.
func (e *Engine) Signal(t Target, sig syscall.Signal) ([]Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	procs, err := e.targetLocked(t)
	if err != nil {
		return nil, err
	}
	b := newBatch(procs)
	for i, p := range procs {
		if !t.IsProcess() && !p.state.IsSignallable() {
			b.skip(i)
			continue
		}
		b.done(i, p.signalLocked(sig))
	}
	return b.wait(nil), nil
}

// SignalProcess sends sig to one process by name: Signal of a one-process
// target, returning the fault as an error.
func (e *Engine) SignalProcess(name string, sig syscall.Signal) error {
	return e.one(name, func(t Target) ([]Result, error) { return e.Signal(t, sig) })
}

func (p *process) signalLocked(sig syscall.Signal) error {
	if !p.state.IsSignallable() || p.pid == 0 {
		return fault(FaultNotRunning, p.spec.Namespec())
	}
	p.logf(-4, "sending %s (pid %d) sig SIG%s", p.spec.Name, p.pid, SignalName(sig))
	if err := p.sendLocked(sig, false); err != nil {
		return fault(FaultFailed, p.spec.Namespec()+": "+err.Error())
	}
	return nil
}

// targetLocked returns the processes t designates in config order, or
// BAD_NAME naming the target as it was written.
func (e *Engine) targetLocked(t Target) ([]*process, error) {
	if t.All {
		return e.orderedLocked(), nil
	}
	g := e.groups[t.Group]
	if g == nil {
		return nil, fault(FaultBadName, t.label())
	}
	if t.Process == "" {
		return slices.Clone(g.procs), nil
	}
	for _, p := range g.procs {
		if p.spec.Name == t.Process {
			return []*process{p}, nil
		}
	}
	return nil, fault(FaultBadName, t.label())
}

// Targets returns the namespecs t designates, in config order.
func (e *Engine) Targets(t Target) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	procs, err := e.targetLocked(t)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(procs))
	for i, p := range procs {
		out[i] = p.spec.Namespec()
	}
	return out, nil
}

// batch collects the results of one operation on several processes in
// config order: each process is skipped, done at once, or pending a wait.
type batch struct {
	procs   []*process
	results []Result
	state   []batchState
}

type batchState uint8

const (
	batchSkipped batchState = iota
	batchDone
	batchPending
)

func newBatch(procs []*process) *batch {
	return &batch{procs: procs, results: make([]Result, len(procs)), state: make([]batchState, len(procs))}
}

func (b *batch) skip(i int) { b.state[i] = batchSkipped }

// done records the immediate outcome for process i: a failure is final, a
// success still waits (when wait is given to b.wait).
func (b *batch) done(i int, err error) {
	b.results[i] = result(b.procs[i], err)
	b.state[i] = batchDone
	if err == nil {
		b.state[i] = batchPending
	}
}

// wait runs wait for every pending process concurrently (nil: nothing to
// wait for) and returns the results of the processes not skipped, in
// config order.
func (b *batch) wait(wait func(*process) error) []Result {
	var wg sync.WaitGroup
	for i, st := range b.state {
		if st == batchPending && wait != nil {
			wg.Go(func() { b.results[i] = result(b.procs[i], wait(b.procs[i])) })
		}
	}
	wg.Wait()
	out := make([]Result, 0, len(b.results))
	for i, st := range b.state {
		if st != batchSkipped {
			out = append(out, b.results[i])
		}
	}
	return out
}

func result(p *process, err error) Result {
	r := Result{Name: p.spec.Name, Group: p.spec.Group, Fault: FaultOf(err), Description: "OK", Err: err}
	if err != nil {
		r.Description = err.Error()
	}
	return r
}

// ShutdownOptions shape a shutdown (ShutdownWith).
type ShutdownOptions struct {
	// Budget bounds the whole shutdown on the engine's clock: each wait is
	// capped by what is left of it, and when it runs out every process
	// group still alive gets SIGKILL. 0 means no budget (ctx still bounds).
	Budget time.Duration
	// Signal, if not 0, is sent to every process instead of its stopsignal.
	Signal syscall.Signal
}

// ShutdownResult says how a shutdown went.
type ShutdownResult struct {
	// Killed names (namespecs) the processes that did not stop on their
	// stop signal within their stopwaitsecs or the budget and got SIGKILL.
	Killed []string
	// BudgetSpent is set when the budget (or ctx) ran out before every
	// process had stopped.
	BudgetSpent bool
}

// Shutdown stops everything as supervisord does on SIGTERM, with no
// budget: see ShutdownWith.
func (e *Engine) Shutdown(ctx context.Context) { e.ShutdownWith(ctx, ShutdownOptions{}) }

// ShutdownWith stops everything: the last start level of the requires
// option first (deps.go), and within a level groups in descending
// priority; those of one level and priority together, each batch fully
// stopped (or its wait cut short by the budget left) before the next is
// signalled. When the budget or
// ctx runs out, every process group still alive gets SIGKILL at once and
// the logs are flushed. Afterwards the engine refuses to start processes
// and its reaper exits. A second call waits for the first and returns an
// empty result.
func (e *Engine) ShutdownWith(ctx context.Context, opts ShutdownOptions) ShutdownResult {
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		<-e.closed
		return ShutdownResult{}
	}
	e.shuttingDown = true
	e.shutdownSignal = opts.Signal
	e.stopTicksLocked()
	order := e.shutdownOrderLocked()
	e.mu.Unlock()
	if opts.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer e.clock.AfterFunc(opts.Budget, cancel)()
	}
	e.Publish(Event{Type: EventSupervisorStopping})
	procs := make([]*process, len(order))
	for i, l := range order {
		procs[i] = l.process
	}
	stopReport := e.shutdownReport(procs) // listed in start order, as supervisord
	slices.Reverse(order)
	for len(order) > 0 && ctx.Err() == nil {
		lv := order[0].level // groups of equal level and priority stop together
		var batch []*process
		for len(order) > 0 && order[0].level == lv {
			batch = append(batch, order[0].process)
			order = order[1:]
		}
		e.mu.Lock()
		for _, p := range batch {
			p.requestStopLocked()
		}
		e.mu.Unlock()
		for _, p := range batch {
			e.waitFor(ctx, p, func(st State) bool { return st.IsStopped() && p.peer == nil })
		}
	}
	stopReport()
	res := ShutdownResult{BudgetSpent: ctx.Err() != nil}
	e.mu.Lock()
	var left []string
	for _, p := range e.orderedLocked() {
		for _, q := range []*process{p, p.peer} {
			if q != nil && q.pid != 0 {
				left = mergeNames(left, []string{p.spec.Namespec()})
				q.sendLocked(syscall.SIGKILL, true)
			}
		}
	}
	if len(left) > 0 {
		e.log.Warn("shutdown time is up: killing " + strings.Join(left, ", ") + " with SIGKILL")
	}
	res.Killed = mergeNames(e.killedInShutdown, left)
	e.mu.Unlock()
	e.drain(200 * time.Millisecond)
	_, hasDeadline := ctx.Deadline()
	e.drainFramed(ctx, opts.Budget > 0 || hasDeadline)
	if e.stopReaper != nil { // nil: made to Resume, which never ran
		e.stopReaper()
		<-e.reaperDone
	}
	if e.pump != nil {
		e.pump.close()
	}
	e.mu.Lock()
	for _, p := range e.procs {
		p.closeLogsLocked()
	}
	e.closeAllSocketsLocked()
	e.mu.Unlock()
	if err := e.state.remove(); err != nil {
		e.log.Error(err.Error())
	}
	close(e.closed)
	return res
}

// drainFramed waits until the framed output streams (log_prefix,
// /dev/stdout) have been copied to their end, or ctx ends: their children
// are gone, but what they wrote may still sit in the pipes, and a slow
// reader of tend's stdout must get all of it. Only a shutdown without a
// bound (budgeted false) gives up after framedGrace.
func (e *Engine) drainFramed(ctx context.Context, budgeted bool) {
	done := make(chan struct{})
	go func() { e.framed.Wait(); close(done) }()
	var grace <-chan time.Time
	if !budgeted {
		t := time.NewTimer(framedGrace)
		defer t.Stop()
		grace = t.C
	}
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("shutdown time is up: output still unread in the pipes of a program's descendants is left")
	case <-grace:
		e.log.Warn("output pipes still open after " + framedGrace.String() + " (held by a program's descendants): not waiting for them")
	}
}

// framedGrace bounds drainFramed when the shutdown has no budget: a
// daemonized grandchild may hold a pipe open for ever.
const framedGrace = 5 * time.Second

// mergeNames returns a followed by the names of b not in a.
func mergeNames(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// shutdownReportEvery is how often a shutdown names the processes it still
// waits for, as supervisord's shutdown_report does.
const shutdownReportEvery = 3 * time.Second

// shutdownReport logs "waiting for a, b to die" for the processes of procs
// not yet in a stopped state, at once and then every shutdownReportEvery,
// until the returned stop is called. Only a shutdown that takes time says
// more than once.
func (e *Engine) shutdownReport(procs []*process) (stop func()) {
	report := func() {
		e.mu.Lock()
		var names []string
		for _, p := range procs {
			if !p.state.IsStopped() {
				names = append(names, p.spec.Name)
			}
		}
		e.mu.Unlock()
		if len(names) > 0 {
			e.log.Info("waiting for " + strings.Join(names, ", ") + " to die")
		}
	}
	report()
	var mu sync.Mutex
	var stopTimer func() bool
	var arm func()
	arm = func() {
		stopTimer = e.clock.AfterFunc(shutdownReportEvery, func() {
			report()
			mu.Lock()
			defer mu.Unlock()
			if stopTimer != nil {
				arm()
			}
		})
	}
	mu.Lock()
	arm()
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopTimer()
		stopTimer = nil
	}
}

// drain waits up to d for every child to be reaped.
func (e *Engine) drain(d time.Duration) {
	e.mu.Lock()
	if len(e.byPid) == 0 {
		e.mu.Unlock()
		return
	}
	if e.reaped == nil {
		e.reaped = make(chan struct{})
	}
	reaped := e.reaped
	e.mu.Unlock()
	timeout := make(chan struct{})
	stop := e.clock.AfterFunc(d, func() { close(timeout) })
	defer stop()
	select {
	case <-reaped:
	case <-timeout:
	}
}
