package supervisor

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartProcess starts one process by name ("name" or "group:name"). With
// wait it blocks until the process is RUNNING (nil), or failed to get there
// (SPAWN_ERROR, ABNORMAL_TERMINATION), as supervisord's startProcess does.
func (e *Engine) StartProcess(ctx context.Context, name string, wait bool) error {
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		return fault(FaultShutdownState, "")
	}
	p, err := e.processLocked(name)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	err = e.startLocked(p)
	e.mu.Unlock()
	if err != nil || !wait {
		return err
	}
	return e.waitStarted(ctx, p)
}

func (e *Engine) startLocked(p *process) error {
	switch {
	case p.state.IsRunning():
		return fault(FaultAlreadyStarted, p.spec.Namespec())
	case p.state == Stopping:
		return fault(FaultAlreadyStarted, p.spec.Namespec())
	}
	if err := p.checkCommandLocked(); err != nil {
		return err
	}
	p.userStopped = false
	p.backoff = 0
	return p.startLocked()
}

func (e *Engine) waitStarted(ctx context.Context, p *process) error {
	st := e.waitFor(ctx, p, func(s State) bool { return s != Starting })
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

// StopProcess stops one process: its stopsignal, then SIGKILL after
// stopwaitsecs. With wait it blocks until the process is stopped. A process
// that is not running gives NOT_RUNNING.
func (e *Engine) StopProcess(ctx context.Context, name string, wait bool) error {
	e.mu.Lock()
	p, err := e.processLocked(name)
	if err == nil {
		p.userStopped = true
		err = p.requestStopLocked()
	}
	e.mu.Unlock()
	if err != nil || !wait {
		return err
	}
	e.waitFor(ctx, p, State.IsStopped)
	return ctx.Err()
}

// SignalProcess sends sig to a RUNNING, STARTING or STOPPING process.
func (e *Engine) SignalProcess(name string, sig syscall.Signal) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.processLocked(name)
	if err != nil {
		return err
	}
	return p.signalLocked(sig)
}

func (p *process) signalLocked(sig syscall.Signal) error {
	if !p.state.IsSignallable() || p.pid == 0 {
		return fault(FaultNotRunning, p.spec.Namespec())
	}
	p.logf(-4, "sending %s (pid %d) sig SIG%s", p.spec.Name, p.pid, SignalName(sig))
	if err := syscall.Kill(p.pid, sig); err != nil {
		return fault(FaultFailed, p.spec.Namespec()+": "+err.Error())
	}
	return nil
}

// groupProcsLocked returns the processes of a group, or of every group when
// name is "" (all), in start order.
func (e *Engine) groupProcsLocked(name string) ([]*process, error) {
	if name == "" {
		return e.orderedLocked(), nil
	}
	g := e.groups[name]
	if g == nil {
		return nil, fault(FaultBadName, name)
	}
	return slices.Clone(g.procs), nil
}

// StartGroup starts every process of a group that is not running. The
// results come in completion order.
func (e *Engine) StartGroup(ctx context.Context, group string, wait bool) ([]Result, error) {
	return e.startMany(ctx, group, wait)
}

// StartAll starts every process that is not running (autostart=false ones
// too, as supervisord does), in priority order.
func (e *Engine) StartAll(ctx context.Context, wait bool) []Result {
	r, _ := e.startMany(ctx, "", wait)
	return r
}

func (e *Engine) startMany(ctx context.Context, group string, wait bool) ([]Result, error) {
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		return nil, fault(FaultShutdownState, "")
	}
	procs, err := e.groupProcsLocked(group)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	var started []*process
	var out []Result
	for _, p := range procs {
		if p.state.IsRunning() {
			continue
		}
		if err := e.startLocked(p); err != nil {
			out = append(out, result(p, err))
			continue
		}
		started = append(started, p)
	}
	e.mu.Unlock()
	return append(out, e.collect(started, func(p *process) error {
		if !wait {
			return nil
		}
		return e.waitStarted(ctx, p)
	})...), nil
}

// StopGroup stops every running process of a group (in reverse priority
// order, all at once) and waits for them when wait is set.
func (e *Engine) StopGroup(ctx context.Context, group string, wait bool) ([]Result, error) {
	return e.stopMany(ctx, group, wait)
}

// StopAll stops every running process, signalling all of them at once in
// ascending priority order as supervisord's stopAllProcesses does.
func (e *Engine) StopAll(ctx context.Context, wait bool) []Result {
	r, _ := e.stopMany(ctx, "", wait)
	return r
}

func (e *Engine) stopMany(ctx context.Context, group string, wait bool) ([]Result, error) {
	e.mu.Lock()
	procs, err := e.groupProcsLocked(group)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	if group != "" {
		slices.Reverse(procs)
	}
	var stopping []*process
	for _, p := range procs {
		if !p.state.IsRunning() {
			continue
		}
		p.userStopped = true
		if err := p.requestStopLocked(); err == nil {
			stopping = append(stopping, p)
		}
	}
	e.mu.Unlock()
	return e.collect(stopping, func(p *process) error {
		if wait {
			e.waitFor(ctx, p, State.IsStopped)
			return ctx.Err()
		}
		return nil
	}), nil
}

// SignalGroup signals every signallable process of a group ("" = all).
func (e *Engine) SignalGroup(group string, sig syscall.Signal) ([]Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	procs, err := e.groupProcsLocked(group)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, p := range procs {
		if p.state.IsSignallable() {
			out = append(out, result(p, p.signalLocked(sig)))
		}
	}
	return out, nil
}

// collect runs wait for each process concurrently and returns the results
// in completion order.
func (e *Engine) collect(procs []*process, wait func(*process) error) []Result {
	ch := make(chan Result, len(procs))
	for _, p := range procs {
		go func() { ch <- result(p, wait(p)) }()
	}
	out := make([]Result, 0, len(procs))
	for range procs {
		out = append(out, <-ch)
	}
	return out
}

func result(p *process, err error) Result {
	r := Result{Name: p.spec.Name, Group: p.spec.Group, Fault: FaultOf(err), Description: "OK"}
	if err != nil {
		r.Description = err.Error()
	}
	return r
}

// Shutdown stops everything as supervisord does on SIGTERM: groups in
// descending priority, each fully stopped before the next is signalled.
// Afterwards the engine refuses to start processes and its reaper exits.
// ctx bounds the whole shutdown; when it ends, what remains gets SIGKILL.
func (e *Engine) Shutdown(ctx context.Context) {
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		<-e.closed
		return
	}
	e.shuttingDown = true
	e.stopTicksLocked()
	order := e.orderedLocked()
	e.mu.Unlock()
	e.Publish(Event{Type: EventSupervisorStopping})
	stopReport := e.shutdownReport(slices.Clone(order)) // listed in ascending priority, as supervisord
	slices.Reverse(order)
	for len(order) > 0 {
		gp := order[0].spec.GroupPriority // groups of equal priority stop together
		var batch []*process
		for len(order) > 0 && order[0].spec.GroupPriority == gp {
			batch = append(batch, order[0])
			order = order[1:]
		}
		e.mu.Lock()
		for _, p := range batch {
			p.requestStopLocked()
		}
		e.mu.Unlock()
		for _, p := range batch {
			e.waitFor(ctx, p, State.IsStopped)
		}
	}
	stopReport()
	e.mu.Lock()
	for _, p := range e.procs {
		if p.pid != 0 {
			syscall.Kill(-p.pid, syscall.SIGKILL)
		}
	}
	e.mu.Unlock()
	e.drain(200 * time.Millisecond)
	e.stopReaper()
	<-e.reaperDone
	if e.pump != nil {
		e.pump.close()
	}
	e.mu.Lock()
	for _, p := range e.procs {
		p.closeLogsLocked()
	}
	e.mu.Unlock()
	close(e.closed)
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
