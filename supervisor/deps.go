package supervisor

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// The requires option: a program starts only once the processes it
// requires have reached a condition. This file holds the whole of it:
// the conditions, how a requirement's name designates processes, the
// start levels (tend check, shutdown order), and the engine side.
//
// The engine never blocks on a requirement. A start asked for (autostart,
// start, update) of a process whose requirements do not hold starts those
// requirements and marks the process waiting: it keeps its state (STOPPED
// for one never started) and its description says "waiting for db
// (ready)". Every state change then schedules settleDepsLocked, which
// starts the waiting processes whose requirements now hold and fails
// (FATAL, "dependency db: FATAL") those whose requirements never will.
// Stops go the other way: a process whose dependents are still stopping
// holds its own stop (stopHeld) until they have stopped.
//
// Requirements gate a start asked for, not the engine's own restarts
// (autorestart, BACKOFF retries): a dependent that crashes while its
// requirement is down restarts as supervisord would restart it.

// Condition is what a requirement waits for.
type Condition string

// The conditions of a requirement.
const (
	// CondDefault is CondReady: for a target that declares no ready
	// option, ready and running are the same (RUNNING).
	CondDefault Condition = ""
	// CondStarted holds while the target is STARTING or RUNNING.
	CondStarted Condition = "started"
	// CondRunning holds once startsecs have passed: RUNNING, or still
	// STARTING only because the ready check has not passed yet.
	CondRunning Condition = "running"
	// CondReady holds while the target is RUNNING, which with a ready
	// option means startsecs have passed and the target said it is ready.
	CondReady Condition = "ready"
	// CondCompleted holds when the target is EXITED for good: it ended
	// on its own and nothing will restart it.
	CondCompleted Condition = "completed"
	// CondCompletedSuccessfully is CondCompleted with an expected exit
	// code (exitcodes).
	CondCompletedSuccessfully Condition = "completed_successfully"
)

// Conditions lists the conditions a config may write, in the order the
// documentation gives them.
var Conditions = []Condition{CondStarted, CondRunning, CondReady, CondCompleted, CondCompletedSuccessfully}

// Requirement is one entry of the requires option: the processes Name
// designates must all hold Condition before the process starts.
type Requirement struct {
	// Name is a program (all its instances), a group (all its
	// processes), "group:name" or an instance's process name, tried in
	// that order (see ResolveRequirement).
	Name      string
	Condition Condition // CondDefault when the config names none
}

// String writes the requirement as tend check shows it: "db" or
// "db=completed".
func (r Requirement) String() string {
	name := r.Name
	if name == "" {
		name = `""`
	}
	if r.Condition == CondDefault {
		return name
	}
	return name + "=" + string(r.Condition)
}

// Requirements is the value of the requires option.
type Requirements []Requirement

// String lists the requirements as tend check shows them: "db,migrate=completed".
func (rs Requirements) String() string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return strings.Join(out, ",")
}

// DisplayCondition names the condition a requirement on targets waits
// for: the default reads "ready" when a target declares ready, else
// "running".
func DisplayCondition(c Condition, targets []*Spec) Condition {
	if c != CondDefault {
		return c
	}
	if slices.ContainsFunc(targets, func(s *Spec) bool { return s.Ready != nil }) {
		return CondReady
	}
	return CondRunning
}

// ResolveRequirement returns the indexes of the specs name designates:
// "group:name" one process, "group:*" a group; a bare name the instances
// of the program so named, else the processes of the group so named,
// else the processes with that process name.
func ResolveRequirement(name string, specs []*Spec) []int {
	var out []int
	match := func(f func(s *Spec) bool) []int {
		for i, s := range specs {
			if f(s) {
				out = append(out, i)
			}
		}
		return out
	}
	if strings.Contains(name, ":") {
		t := ParseTarget(name)
		return match(func(s *Spec) bool { return s.Group == t.Group && (t.Process == "" || s.Name == t.Process) })
	}
	for _, f := range []func(s *Spec) bool{
		func(s *Spec) bool { return s.Program == name },
		func(s *Spec) bool { return s.Group == name },
		func(s *Spec) bool { return s.Name == name },
	} {
		if out = match(f); len(out) > 0 {
			return out
		}
	}
	return nil
}

// RequireError is a requirement that designates nothing, or that closes
// a cycle of requirements.
type RequireError struct {
	Process string // namespec of the process that declares it
	Name    string // the requirement as written
	// Cycle names the processes around the cycle, the first again at the
	// end; nil for an unknown name.
	Cycle []string
}

func (e *RequireError) Error() string {
	if e.Cycle != nil {
		return "requires: cycle: " + strings.Join(e.Cycle, " -> ")
	}
	return fmt.Sprintf("requires: %q is no program, group or process", e.Name)
}

// RequireErrors reports what StartLevels does, without building the
// levels: a config check needs only the errors, and copying and sorting
// thousands of specs into levels cost a load more than the check itself.
func RequireErrors(specs []Spec) []*RequireError {
	has := false
	for i := range specs {
		has = has || len(specs[i].Requires) > 0
	}
	if !has {
		return nil // the common config: nothing requires anything
	}
	ptrs := make([]*Spec, len(specs))
	for i := range specs {
		ptrs[i] = &specs[i]
	}
	return newDepGraph(ptrs).errs
}

// StartLevels sorts specs by their requirements: level 0 requires
// nothing, and a process is one level above the highest of what it
// requires. Each level is in start order (group priority, group,
// priority, name): priority only breaks ties. Stopping goes the other way,
// from the last level to the first. It reports every unknown name, and
// each cycle once (at its first process in specs order); the levels are
// then nil.
func StartLevels(specs []Spec) ([][]Spec, []*RequireError) {
	ptrs := make([]*Spec, len(specs))
	for i := range specs {
		ptrs[i] = &specs[i]
	}
	g := newDepGraph(ptrs)
	if len(g.errs) > 0 {
		return nil, g.errs
	}
	var levels [][]Spec
	for i, l := range g.level {
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], specs[i])
	}
	for _, l := range levels {
		slices.SortFunc(l, func(a, b Spec) int { return specOrder(&a, &b) })
	}
	return levels, nil
}

// depGraph is the requirement graph of a set of specs, by index.
type depGraph struct {
	specs []*Spec
	reqs  [][]int // reqs[i]: the indexes i requires
	level []int   // valid when errs is empty
	errs  []*RequireError
}

func newDepGraph(specs []*Spec) *depGraph {
	g := &depGraph{specs: specs, reqs: make([][]int, len(specs)), level: make([]int, len(specs))}
	for i, s := range specs {
		for _, r := range s.Requires {
			targets := ResolveRequirement(r.Name, specs)
			if len(targets) == 0 {
				g.errs = append(g.errs, &RequireError{Process: s.Namespec(), Name: r.Name})
			}
			g.reqs[i] = append(g.reqs[i], targets...)
		}
	}
	g.levels()
	return g
}

// levels computes each level by a depth-first walk, recording a cycle
// when the walk meets a process it is still inside.
func (g *depGraph) levels() {
	const (
		unseen = iota
		inside
		done
	)
	mark := make([]int, len(g.specs))
	var path []int
	var visit func(i int) int
	visit = func(i int) int {
		switch mark[i] {
		case done:
			return g.level[i]
		case inside:
			at := slices.Index(path, i)
			cycle := make([]string, 0, len(path)-at+1)
			for _, j := range path[at:] {
				cycle = append(cycle, g.specs[j].Namespec())
			}
			cycle = append(cycle, g.specs[i].Namespec())
			g.errs = append(g.errs, &RequireError{Process: g.specs[i].Namespec(), Name: cycle[1], Cycle: cycle})
			return 0
		}
		mark[i] = inside
		path = append(path, i)
		l := 0
		for _, j := range g.reqs[i] {
			l = max(l, visit(j)+1)
		}
		path = path[:len(path)-1]
		mark[i] = done
		g.level[i] = l
		return l
	}
	for i := range g.specs {
		visit(i)
	}
}

// specOrder is the start order of supervisord: group priority, group,
// process priority, name.
func specOrder(a, b *Spec) int {
	return cmp.Or(cmp.Compare(a.GroupPriority, b.GroupPriority), cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Name, b.Name))
}

// requireCycle reports the first cycle among specs (unknown names are not
// the engine's concern: a partial update may name what it does not hold).
func requireCycle(specs []Spec) error {
	for _, err := range RequireErrors(specs) {
		if err.Cycle != nil {
			return fmt.Errorf("process %q: %w", err.Process, err)
		}
	}
	return nil
}

// --- the engine side ---

// depIndex is the requirement graph of the engine's processes, rebuilt
// whenever they change (rebuildGroupsLocked); Engine.deps is nil when no
// process has requirements, and everything here then costs nothing.
type depIndex struct {
	targets    map[*process][][]*process // per requirement of p, what it designates
	dependents map[*process][]*process   // the processes requiring p
	level      map[*process]int          // start levels (StartLevels)
}

// indexDepsLocked rebuilds e.deps from the processes.
func (e *Engine) indexDepsLocked() {
	e.deps = nil
	procs := e.orderedLocked()
	specs := make([]*Spec, len(procs))
	for i, p := range procs {
		specs[i] = &p.spec
		if len(p.spec.Requires) > 0 && e.deps == nil {
			e.deps = &depIndex{targets: map[*process][][]*process{}, dependents: map[*process][]*process{}, level: map[*process]int{}}
		}
	}
	if e.deps == nil {
		return
	}
	g := newDepGraph(specs) // a cycle, which Update refuses, just ends the count
	for i, p := range procs {
		e.deps.level[p] = g.level[i]
		for _, r := range p.spec.Requires {
			var targets []*process
			for _, j := range ResolveRequirement(r.Name, specs) {
				targets = append(targets, procs[j])
				if q := procs[j]; !slices.Contains(e.deps.dependents[q], p) {
					e.deps.dependents[q] = append(e.deps.dependents[q], p)
				}
			}
			e.deps.targets[p] = append(e.deps.targets[p], targets)
		}
	}
}

// requirementsOf returns p's requirements with what each designates.
func (e *Engine) requirementsOf(p *process) (reqs []Requirement, targets [][]*process) {
	if e.deps == nil || len(e.deps.targets[p]) != len(p.spec.Requires) {
		return nil, nil // none, or p is not indexed yet (mid-update)
	}
	return p.spec.Requires, e.deps.targets[p]
}

// holds reports whether q holds condition c now.
func (q *process) holds(c Condition) bool {
	switch c {
	case CondStarted:
		return q.state == Starting || q.state == Running
	case CondRunning:
		return q.state == Running || q.state == Starting && q.rd != nil && q.rd.startsecsDone
	case CondCompleted:
		return q.state == Exited && q.finished
	case CondCompletedSuccessfully:
		return q.state == Exited && q.finished && q.lastExit.Expected
	}
	return q.state == Running // CondReady, CondDefault
}

// neverHolds says why q cannot come to hold c unless it is started again
// ("FATAL", "EXITED (exit status 1)"), or "" while it still may.
func (q *process) neverHolds(c Condition) string {
	switch {
	case q.state == Fatal:
		return "FATAL"
	case q.state != Exited || !q.finished || q.holds(c):
		return ""
	case q.lastExit.Signal != 0:
		return "EXITED (terminated by SIG" + SignalName(q.lastExit.Signal) + ")"
	}
	return fmt.Sprintf("EXITED (exit status %d)", q.lastExit.Code)
}

// idle reports whether q is stopped with nothing pending, so that a start
// of what requires it must start it.
func (q *process) idle() bool {
	return q.state.IsStopped() && !q.waiting && !q.stopHeld && !q.removed && !(q.state == Exited && !q.finished)
}

// launchLocked starts p as a start asked for does, once its requirements
// hold. The requirements that do not hold and are idle are started first
// (as a start asks, recursively); p then waits, and settleDepsLocked
// starts it when they hold. This is the one place where a start asked
// for meets the requirements.
func (e *Engine) launchLocked(p *process) error {
	reqs, _ := e.requirementsOf(p)
	if len(reqs) == 0 {
		return p.startLocked()
	}
	if p.waiting {
		return nil
	}
	p.waiting = true // first: a cycle that slipped through ends here
	if _, refused := e.startRequirementsLocked(p); refused != "" {
		p.waiting = false
		p.dependencyFailedLocked(refused)
		return fault(FaultSpawnError, p.spec.Namespec())
	}
	if e.settleLocked(p) {
		return nil
	}
	p.logf(slog.LevelInfo, "waiting: %s for %s", p.spec.Name, e.waitingForLocked(p))
	p.wakeLocked()
	return nil
}

// settleLocked starts a waiting p if its requirements all hold, or makes
// it FATAL if one never will ("dependency db: FATAL"); it reports whether
// it did either.
func (e *Engine) settleLocked(p *process) bool {
	reqs, targets := e.requirementsOf(p)
	all := true
	for i, r := range reqs {
		if len(targets[i]) == 0 {
			all = false // named by a partial update: it may still come
		}
		for _, q := range targets[i] {
			if q.holds(r.Condition) {
				continue
			}
			all = false
			if why := q.neverHolds(r.Condition); why != "" {
				p.waiting = false
				p.dependencyFailedLocked(fmt.Sprintf("dependency %s: %s", q.spec.Namespec(), why))
				return true
			}
		}
	}
	if all {
		p.waiting = false
		p.startLocked()
	}
	return all
}

// requiresInfoLocked returns p's requirements with their conditions named,
// and what p waits for, for Info.
func (e *Engine) requiresInfoLocked(p *process) ([]Requirement, string) {
	reqs, targets := e.requirementsOf(p)
	out := make([]Requirement, len(reqs))
	for i, r := range reqs {
		out[i] = Requirement{Name: r.Name, Condition: DisplayCondition(r.Condition, specsOf(targets[i]))}
	}
	if !p.waiting {
		return out, ""
	}
	if w := e.waitingForLocked(p); w != "" {
		return out, w
	}
	// Every requirement holds and the start is queued (settleDepsLocked
	// runs on its own goroutine): still waiting, so Waiting must not be
	// empty, or exit_when_done would take the moment for the end.
	parts := make([]string, len(out))
	for i, r := range out {
		parts[i] = fmt.Sprintf("%s (%s)", r.Name, r.Condition)
	}
	return out, strings.Join(parts, ", ")
}

// waitingForLocked says what p waits for: "db (ready), migrate
// (completed_successfully)".
func (e *Engine) waitingForLocked(p *process) string {
	reqs, targets := e.requirementsOf(p)
	var parts []string
	for i, r := range reqs {
		switch {
		case len(targets[i]) == 0:
			parts = append(parts, r.Name+" (not configured)")
		case slices.ContainsFunc(targets[i], func(q *process) bool { return !q.holds(r.Condition) }):
			parts = append(parts, fmt.Sprintf("%s (%s)", r.Name, DisplayCondition(r.Condition, specsOf(targets[i]))))
		}
	}
	return strings.Join(parts, ", ")
}

func specsOf(procs []*process) []*Spec {
	out := make([]*Spec, len(procs))
	for i, q := range procs {
		out[i] = &q.spec
	}
	return out
}

// dependencyFailedLocked makes a waiting p FATAL: a requirement will never
// hold.
func (p *process) dependencyFailedLocked(why string) {
	p.spawnErr = why
	p.lastExit = ExitInfo{Code: -1, StartRetries: p.spec.StartRetries}
	p.logf(slog.LevelWarn, "gave up: %s entered FATAL state, %s", p.spec.Name, why)
	if p.state == Fatal {
		p.wakeLocked()
	} else {
		p.setStateLocked(Fatal, false)
	}
	p.doneLocked()
}

// wakeLocked wakes whoever waits on p (waitFor), as a state change does.
func (p *process) wakeLocked() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// depsChangedLocked is called at every state change: when processes have
// requirements, it schedules settleDepsLocked on a goroutine of its own,
// once for a burst of changes, so that no transition is re-entered.
func (e *Engine) depsChangedLocked() {
	if e.deps == nil || e.depsQueued || e.shuttingDown {
		return
	}
	e.depsQueued = true
	go func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.depsQueued = false
		e.settleDepsLocked()
	}()
}

// settleDepsLocked starts the waiting processes whose requirements hold,
// fails those whose requirements never will, and lets through the stops
// held for dependents that have stopped, until nothing more moves.
func (e *Engine) settleDepsLocked() {
	for moved := true; moved && !e.shuttingDown; {
		moved = false
		for _, p := range e.orderedLocked() {
			switch {
			case p.waiting:
				moved = e.settleLocked(p) || e.restartIdleLocked(p) || moved
			case p.stopHeld && !e.dependentStoppingLocked(p):
				p.stopHeld = false
				p.requestStopLocked()
				moved = true
			}
		}
	}
}

// restartIdleLocked starts the idle requirements of a waiting p (those
// that were stopping when p was asked to start). It reports whether
// anything changed.
func (e *Engine) restartIdleLocked(p *process) bool {
	started, refused := e.startRequirementsLocked(p)
	if refused != "" {
		p.waiting = false
		p.dependencyFailedLocked(refused)
		return true
	}
	return started
}

// startRequirementsLocked starts, as a start asks (recursively), the
// requirements of p that do not hold and are idle. It reports whether it
// started one, and why one refused to start ("dependency db: NO_FILE:
// ..."; its state then says nothing).
func (e *Engine) startRequirementsLocked(p *process) (started bool, refused string) {
	reqs, targets := e.requirementsOf(p)
	for i, r := range reqs {
		for _, q := range targets[i] {
			if q.holds(r.Condition) || !q.idle() {
				continue
			}
			before := q.state
			err := e.startLocked(q)
			if err != nil && q.state == before && !q.waiting {
				return started, fmt.Sprintf("dependency %s: %v", q.spec.Namespec(), err)
			}
			started = true
		}
	}
	return started, ""
}

// dependentStoppingLocked reports whether a process requiring p is still
// on its way to stopped (its stop held, or STOPPING).
func (e *Engine) dependentStoppingLocked(p *process) bool {
	if e.deps == nil {
		return false
	}
	return slices.ContainsFunc(e.deps.dependents[p], func(d *process) bool {
		return d.stopHeld || d.state == Stopping
	})
}

// byLevelLocked returns procs sorted by start level (ascending, or
// descending with reverse), keeping the given order within a level.
func (e *Engine) byLevelLocked(procs []*process, reverse bool) []*process {
	out := slices.Clone(procs)
	if e.deps == nil {
		return out
	}
	slices.SortStableFunc(out, func(a, b *process) int {
		if reverse {
			a, b = b, a
		}
		return cmp.Compare(e.deps.level[a], e.deps.level[b])
	})
	return out
}

// stopInOrderLocked asks each process of procs to stop, dependents first:
// one whose dependents are still stopping holds its stop until they have
// stopped (settleDepsLocked). A waiting process just drops its pending
// start. It returns each stop's immediate outcome.
func (e *Engine) stopInOrderLocked(procs []*process) map[*process]error {
	out := make(map[*process]error, len(procs))
	for _, p := range e.byLevelLocked(procs, true) {
		switch {
		case p.waiting:
			p.waiting = false
			p.logf(slog.LevelInfo, "stopped: %s (was waiting for its requirements)", p.spec.Name)
			p.wakeLocked()
		case (p.state == Running || p.state == Starting) && e.dependentStoppingLocked(p):
			p.stopHeld = true
		default:
			out[p] = p.requestStopLocked()
		}
	}
	return out
}

// withDependentsLocked returns procs and, after them, every process that
// requires one of them (transitively) and is running or waiting: stopping
// a requirement stops what requires it first. extra are those added.
func (e *Engine) withDependentsLocked(procs []*process) (all, extra []*process) {
	all = slices.Clone(procs)
	if e.deps == nil {
		return all, nil
	}
	for i := 0; i < len(all); i++ {
		for _, d := range e.deps.dependents[all[i]] {
			if !slices.Contains(all, d) && (d.state.IsRunning() || d.waiting) {
				all = append(all, d)
				extra = append(extra, d)
			}
		}
	}
	return all, extra
}

// leveled is a process with its place in the shutdown order.
type leveled struct {
	*process
	level [2]int // start level, group priority
}

// shutdownOrderLocked drops every pending start and held stop and returns
// the processes in start order by start level, then as orderedLocked
// orders them; ShutdownWith stops them from the end, a batch at a time.
func (e *Engine) shutdownOrderLocked() []leveled {
	procs := e.byLevelLocked(e.orderedLocked(), false)
	out := make([]leveled, len(procs))
	for i, p := range procs {
		p.waiting, p.stopHeld = false, false
		l := 0
		if e.deps != nil {
			l = e.deps.level[p]
		}
		out[i] = leveled{p, [2]int{l, p.spec.GroupPriority}}
	}
	return out
}
