package supervisor

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Change describes what an update does to one group.
type Change struct {
	Group   string
	Kind    string   // "added", "changed" or "removed"
	Added   []string // process names that appear
	Removed []string // process names that disappear
	Changed []string // process names whose configuration differs
	Fields  []string // options that differ, for Changed processes
	Kept    int      // processes of the group left running untouched
}

// Scaled reports whether the change only adds or removes instances.
func (c Change) Scaled() bool {
	return c.Kind == "changed" && len(c.Changed) == 0 && (len(c.Added) > 0 || len(c.Removed) > 0)
}

// Plan returns what Update(specs) would do, without doing it.
func (e *Engine) Plan(specs []Spec) ([]Change, error) {
	if err := validateSpecs(specs); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.planLocked(specs, nil), nil
}

// Update makes the running set match specs, touching only what differs:
// new processes are added (and started if autostart), vanished ones are
// stopped and dropped, changed ones are stopped and started again with
// their new configuration, and unchanged ones keep running (picking up new
// hooks). A process stopped by the user stays stopped. Changing numprocs
// adds or removes only the extra instances. Update blocks until the
// processes it stops have stopped.
func (e *Engine) Update(ctx context.Context, specs []Spec) ([]Change, error) {
	return e.update(ctx, specs, nil)
}

// UpdateGroups is Update restricted to the named groups: specs of other
// groups are ignored and their processes left alone. An unknown name (in
// neither the running set nor specs) gives BAD_NAME.
func (e *Engine) UpdateGroups(ctx context.Context, specs []Spec, groups []string) ([]Change, error) {
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Group] = true
	}
	e.mu.Lock()
	for g := range e.groups {
		known[g] = true
	}
	e.mu.Unlock()
	for _, g := range groups {
		if !known[g] {
			return nil, fault(FaultBadName, g)
		}
	}
	return e.update(ctx, specs, func(g string) bool { return slices.Contains(groups, g) })
}

// UpdateProgram replaces the instances of one program (scaling it, for
// example) and leaves every other process alone.
func (e *Engine) UpdateProgram(ctx context.Context, program string, specs []Spec) ([]Change, error) {
	for _, s := range specs {
		if s.Program != program {
			return nil, fmt.Errorf("update %s: spec %s belongs to program %s", program, s.Name, s.Program)
		}
	}
	var all []Spec
	for _, s := range e.Specs() {
		if s.Program != program {
			all = append(all, s)
		}
	}
	return e.update(ctx, append(all, specs...), nil)
}

func validateSpecs(specs []Spec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" || s.Group == "" {
			return fmt.Errorf("spec %q: name and group are required", s.Namespec())
		}
		if strings.ContainsAny(s.Name, ":") || strings.ContainsAny(s.Group, ":") {
			return fmt.Errorf("spec %q: names may not contain ':'", s.Namespec())
		}
		if seen[s.Namespec()] {
			return fmt.Errorf("duplicate process name %q", s.Namespec())
		}
		seen[s.Namespec()] = true
	}
	if err := requireCycle(specs); err != nil {
		return err
	}
	return validateSockets(specs)
}

func (e *Engine) planLocked(specs []Spec, scope func(string) bool) []Change {
	in := func(g string) bool { return scope == nil || scope(g) }
	// Pointers into specs: a Spec is large, and copying 5000 of them in
	// and out of maps was most of an update's own time.
	byGroup := map[string]map[string]*Spec{}
	for i := range specs {
		s := &specs[i]
		if !in(s.Group) {
			continue
		}
		if byGroup[s.Group] == nil {
			byGroup[s.Group] = map[string]*Spec{}
		}
		byGroup[s.Group][s.Name] = s
	}
	var out []Change
	for name, g := range e.groups {
		if !in(name) {
			continue
		}
		next, ok := byGroup[name]
		if !ok {
			c := Change{Group: name, Kind: "removed"}
			for _, p := range g.procs {
				c.Removed = append(c.Removed, p.spec.Name)
			}
			out = append(out, c)
			continue
		}
		c := Change{Group: name, Kind: "changed"}
		fields := map[string]bool{}
		for _, p := range g.procs {
			s, ok := next[p.spec.Name]
			switch {
			case !ok:
				c.Removed = append(c.Removed, p.spec.Name)
			case !p.spec.equal(s):
				c.Changed = append(c.Changed, p.spec.Name)
				for _, f := range specDiff(p.spec, *s) {
					fields[f] = true
				}
			default:
				c.Kept++
			}
		}
		// Each process kept or changed matched one name of next: any
		// other name is added. (The common update adds nothing, and the
		// search is then skipped.)
		if len(next) > c.Kept+len(c.Changed) {
			running := make(map[string]bool, len(g.procs))
			for _, p := range g.procs {
				running[p.spec.Name] = true
			}
			for pname := range next {
				if !running[pname] {
					c.Added = append(c.Added, pname)
				}
			}
		}
		if len(c.Added)+len(c.Removed)+len(c.Changed) > 0 {
			slices.Sort(c.Added)
			c.Fields = slices.Sorted(maps.Keys(fields))
			out = append(out, c)
		}
	}
	for name, procs := range byGroup {
		if e.groups[name] == nil {
			c := Change{Group: name, Kind: "added"}
			for pname := range procs {
				c.Added = append(c.Added, pname)
			}
			slices.Sort(c.Added)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(a.Group, b.Group) })
	return out
}

func (e *Engine) update(ctx context.Context, specs []Spec, scope func(string) bool) ([]Change, error) {
	if err := validateSpecs(specs); err != nil {
		return nil, err
	}
	// Updates run one at a time: each one waits for its stops outside mu,
	// and a second update must see the first one's result, not its middle.
	e.updateMu.Lock()
	defer e.updateMu.Unlock()
	in := func(g string) bool { return scope == nil || scope(g) }
	next := make(map[string]*Spec, len(specs)) // into specs, as in planLocked
	scoped := specs
	if scope != nil {
		scoped = nil
	}
	for i := range specs {
		if s := &specs[i]; in(s.Group) {
			next[s.Namespec()] = s
			if scope != nil {
				scoped = append(scoped, *s)
			}
		}
	}

	// Phase 1: stop what goes away or changes.
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		return nil, fault(FaultShutdownState, "")
	}
	changes := e.planLocked(specs, scope)
	if err := e.openSocketsLocked(scoped); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	var waiting []*process
	wasRunning := map[*process]bool{}
	same := make(map[*process]bool, len(e.procs)) // phase 2 needs not compare again
	for key, p := range e.procs {
		if !in(p.spec.Group) {
			continue
		}
		s, ok := next[key]
		if ok && p.spec.equal(s) {
			same[p] = true
			continue
		}
		wasRunning[p] = p.state.IsRunning() || p.state == Stopping || p.waiting
		waiting = append(waiting, p)
	}
	e.stopInOrderLocked(waiting) // what requires another stops first
	e.mu.Unlock()
	for _, p := range waiting {
		e.waitFor(ctx, p, State.IsStopped)
	}

	// Phase 2: swap configurations and start what should run.
	e.mu.Lock()
	defer e.mu.Unlock()
	var toStart, toAdopt []*process
	for key, p := range e.procs {
		if !in(p.spec.Group) {
			continue
		}
		s, ok := next[key]
		switch {
		case !ok:
			e.removeLocked(p)
		case same[p] || p.spec.equal(s):
			p.spec.copyLive(s)
		default:
			if p.spec.Stdout != s.Stdout || p.spec.Stderr != s.Stderr || p.spec.RedirectStderr != s.RedirectStderr {
				p.closeLogsLocked()
			}
			p.spec = *s
			p.cmdPath = ""
			if !p.userStopped && (wasRunning[p] || s.AutoStart) {
				toStart = append(toStart, p)
			}
		}
	}
	for key, s := range next {
		if e.procs[key] == nil {
			p := &process{e: e, spec: *s}
			e.procs[key] = p
			switch {
			case e.adoptable[key] != nil:
				toAdopt = append(toAdopt, p)
			case s.AutoStart:
				toStart = append(toStart, p)
			}
		}
	}
	e.rebuildGroupsLocked()
	e.sweepSocketsLocked()
	e.budgetFDsLocked()
	slices.SortFunc(toAdopt, startOrder)
	for _, p := range toAdopt {
		e.claimOrphanLocked(p)
	}
	slices.SortFunc(toStart, startOrder)
	e.launchAllLocked(e.byLevelLocked(toStart, false))
	e.depsChangedLocked() // requirements may have changed under a waiting process
	if left := e.unclaimedOrphansLocked(); len(left) > 0 {
		go e.stopOrphans(context.Background(), left)
	}
	return changes, nil
}

func startOrder(a, b *process) int { return specOrder(&a.spec, &b.spec) }

// launchYield is how long a batch of starts holds mu before letting
// waiting requests in: spawning is a few milliseconds per child, and
// thousands started in one hold kept `tend status` waiting for all of
// them (5 s at 2000 programs).
const launchYield = 5 * time.Millisecond

// launchAllLocked launches ps in order, letting waiting requests in every
// launchYield (yieldLocked). What happened meanwhile is checked before
// each launch: a process already started, or removed, is left alone, and
// a shutdown ends the batch.
func (e *Engine) launchAllLocked(ps []*process) {
	held := time.Now()
	for _, p := range ps {
		if e.yieldLocked(&held) {
			return
		}
		if !p.removed && !p.state.IsRunning() && p.state != Stopping {
			e.launchLocked(p)
		}
	}
}

// yieldLocked releases mu and takes it again when it has been held since
// *held for more than launchYield, so that a long batch of starts does
// not keep every other request waiting; it reports whether the engine
// began shutting down meanwhile. A Go mutex hands itself to a goroutine
// that has waited over a millisecond, so the waiters do get in.
func (e *Engine) yieldLocked(held *time.Time) (shuttingDown bool) {
	if time.Since(*held) <= launchYield {
		return false
	}
	e.mu.Unlock()
	e.mu.Lock()
	*held = time.Now()
	return e.shuttingDown
}

// removeLocked drops a stopped process from the tables. If it is somehow
// still running (a stop that outlived ctx) it is dropped once stopped.
func (e *Engine) removeLocked(p *process) {
	p.removed = true
	if !p.state.IsStopped() {
		p.onRemoved = func() { e.forgetLocked(p); e.sweepSocketsLocked() }
		return
	}
	e.forgetLocked(p)
}

func (e *Engine) forgetLocked(p *process) {
	key := p.spec.Namespec()
	if e.procs[key] == p {
		delete(e.procs, key)
		e.usage.forget(key)
	}
	p.bumpLocked()
	p.closeLogsLocked()
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
	e.rebuildGroupsLocked()
}

// rebuildGroupsLocked recomputes the group table from the processes and
// publishes PROCESS_GROUP_ADDED/REMOVED for groups that appear or vanish.
func (e *Engine) rebuildGroupsLocked() {
	e.rebuildPoolsLocked() // first, so that a new pool sees the groups added with it
	groups := map[string]*group{}
	for _, p := range e.procs {
		g := groups[p.spec.Group]
		if g == nil {
			g = &group{name: p.spec.Group, priority: p.spec.GroupPriority}
			groups[p.spec.Group] = g
		}
		g.priority = min(g.priority, p.spec.GroupPriority)
		g.procs = append(g.procs, p)
	}
	// Events go out in start order, as supervisord adds groups by priority.
	order := slices.SortedFunc(maps.Values(groups), func(a, b *group) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.name, b.name))
	})
	for _, g := range order {
		slices.SortFunc(g.procs, startOrder)
		if e.groups[g.name] == nil {
			e.bus.Publish(Event{Type: EventProcessGroupAdded, Time: e.clock.Now(), Group: g.name})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.groups)) {
		if groups[name] == nil {
			e.bus.Publish(Event{Type: EventProcessGroupRemove, Time: e.clock.Now(), Group: name})
		}
	}
	e.groups = groups
	e.indexDepsLocked()
}

// RemoveGroup drops a group whose processes are all stopped, as
// supervisord's removeProcessGroup (STILL_RUNNING otherwise).
func (e *Engine) RemoveGroup(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.groups[name]
	if g == nil {
		return fault(FaultBadName, name)
	}
	for _, p := range g.procs {
		if !p.state.IsStopped() {
			return fault(FaultStillRunning, name)
		}
	}
	for _, p := range slices.Clone(g.procs) {
		p.removed = true
		e.forgetLocked(p)
	}
	e.sweepSocketsLocked()
	return nil
}

// AddGroup adds the processes of one group from specs (ALREADY_ADDED if
// the group is in use, BAD_NAME if specs have no such group) and starts the
// autostart ones.
func (e *Engine) AddGroup(ctx context.Context, specs []Spec, name string) error {
	var mine []Spec
	for _, s := range specs {
		if s.Group == name {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return fault(FaultBadName, name)
	}
	e.mu.Lock()
	inUse := e.groups[name] != nil
	e.mu.Unlock()
	if inUse {
		return fault(FaultAlreadyAdded, name)
	}
	_, err := e.update(ctx, mine, func(g string) bool { return g == name })
	return err
}
