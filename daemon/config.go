package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
	"github.com/tend-sh/tend/vm"
)

// errNotRunning is what sv calls get while the config first loads.
var errNotRunning = errors.New("the daemon is not running yet")

// engine returns the engine, or errNotRunning before Start.
func (d *Daemon) engine() (*supervisor.Engine, error) {
	if eng := d.Engine(); eng != nil {
		return eng, nil
	}
	return nil, errNotRunning
}

// load evaluates the config in a fresh Lua state. A throwaway state (for
// reread) gets no sv control; one that will run hooks gets the daemon.
// Nothing of the running config is fed into the load: a setting the new
// config leaves out takes its default.
//
// The running config's load_timeout and lua_memory_limit bound the load
// (a config's own values are only known once it has run). A state that
// serves hooks and gets stuck is replaced (replaceStuck).
func (d *Daemon) load(ctx context.Context, live bool) (*vm.VM, *vm.Config, error) {
	opts := vm.Options{Logger: d.log, Supervisord: d.opts.Supervisord}
	d.mu.Lock()
	if d.cfg != nil {
		opts.LoadTimeout, opts.MemoryLimit = d.cfg.Daemon.LoadTimeout, d.cfg.Daemon.LuaMemoryLimit
	}
	d.mu.Unlock()
	var self atomic.Pointer[vm.VM]
	if live {
		opts.Control = svControl{d}
		opts.OnStuck = func(where string) { d.replaceStuck(self.Load(), where) }
	}
	v, cfg, err := vm.Load(ctx, d.path, opts)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Specs, err = d.withMain(cfg.Specs); err != nil {
		v.Close()
		return nil, nil, err
	}
	if d.ml != nil { // Open logs the first load's, once the main log is open
		d.logWarnings(cfg)
	}
	self.Store(v)
	d.mu.Lock()
	d.available = cfg.Specs
	d.mu.Unlock()
	return v, cfg, nil
}

// logWarnings logs what a load found suspicious but not wrong (an include
// that matches no file).
func (d *Daemon) logWarnings(cfg *vm.Config) {
	for _, w := range cfg.Warnings {
		d.log.Warn(w)
	}
}

// stuckReloadTimeout bounds the load that replaces a stuck state.
const stuckReloadTimeout = time.Minute

// replaceStuck replaces a Lua state whose goroutine is held past every
// deadline (a hook blocked where no deadline reaches): the config is
// loaded into a fresh state and the groups the stuck one served are
// updated to it, which swaps their hooks without restarting anything
// unless the config file changed meanwhile. The stuck state is abandoned
// (vm.VM.Close returns within its grace). Until then its hooks fail and
// the engine applies supervisord's rules.
func (d *Daemon) replaceStuck(stuck *vm.VM, where string) {
	if stuck == nil {
		return
	}
	d.log.Error("lua state stuck (" + where + "): replacing it with a fresh load of the config")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), stuckReloadTimeout)
		defer cancel()
		if err := d.replace(ctx, stuck); err != nil {
			d.log.Error("replacing the stuck lua state: " + err.Error())
		}
	}()
}

// replace loads the config anew and moves every group old serves to the
// new state, which also becomes the current one.
func (d *Daemon) replace(ctx context.Context, old *vm.VM) error {
	eng, err := d.engine()
	if err != nil {
		return err
	}
	d.txMu.Lock()
	defer d.txMu.Unlock()
	d.mu.Lock()
	groups := []string{} // not nil: adopt moves only these
	for g, v := range d.owner {
		if v == old {
			groups = append(groups, g)
		}
	}
	d.mu.Unlock()
	if !slices.Contains(d.states(), old) {
		return nil // replaced or closed meanwhile
	}
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return err
	}
	undo, done := d.assign(v, cfg, groups)
	if len(groups) > 0 {
		if _, err := eng.UpdateGroups(ctx, cfg.Specs, groups); err != nil {
			undo()
			v.Close()
			return err
		}
	}
	done()
	return nil
}

// states returns every open Lua state.
func (d *Daemon) states() []*vm.VM {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.statesLocked()
}

// adopt makes v the current state and moves the named groups to it (nil:
// every group of cfg). States no group uses any more are closed.
func (d *Daemon) adopt(v *vm.VM, cfg *vm.Config, groups []string) {
	_, done := d.assign(v, cfg, groups)
	done()
}

// assign makes v the current state and the owner of the named groups (nil:
// every group of cfg), before the engine starts their processes, so their
// first events already reach v's hooks. undo restores the previous
// assignment (the engine refused the change); done closes the states no
// group uses any more.
func (d *Daemon) assign(v *vm.VM, cfg *vm.Config, groups []string) (undo, done func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	before := d.statesLocked()
	prevVM, prevCfg, prevOwner := d.vm, d.cfg, maps.Clone(d.owner)
	d.vm, d.cfg = v, cfg
	if groups == nil {
		clear(d.owner)
		for _, s := range cfg.Specs {
			d.owner[s.Group] = v
		}
	} else {
		inCfg := map[string]bool{}
		for _, s := range cfg.Specs {
			inCfg[s.Group] = true
		}
		for _, g := range groups {
			if inCfg[g] {
				d.owner[g] = v
			} else {
				delete(d.owner, g)
			}
		}
	}
	undo = func() {
		d.mu.Lock()
		d.vm, d.cfg, d.owner = prevVM, prevCfg, prevOwner
		d.mu.Unlock()
	}
	done = func() {
		after := d.states()
		for _, old := range before {
			if !slices.Contains(after, old) {
				d.closeVM(old)
			}
		}
	}
	return undo, done
}

// Reread loads the config in a throwaway state and returns what an update
// would change.
func (d *Daemon) Reread(ctx context.Context) ([]supervisor.Change, error) {
	eng, err := d.engine()
	if err != nil {
		return nil, err
	}
	v, cfg, err := d.load(ctx, false)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return eng.Plan(cfg.Specs)
}

// Update loads the config anew and applies it to every group, or to the
// named ones only (whose processes then run their hooks in the new state).
// On any error nothing changes.
func (d *Daemon) Update(ctx context.Context, groups []string) ([]supervisor.Change, error) {
	eng, err := d.engine()
	if err != nil {
		return nil, err
	}
	d.txMu.Lock()
	defer d.txMu.Unlock()
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		groups = nil
	}
	undo, done := d.assign(v, cfg, groups)
	var changes []supervisor.Change
	if groups == nil {
		changes, err = eng.Update(ctx, cfg.Specs)
	} else {
		changes, err = eng.UpdateGroups(ctx, cfg.Specs, groups)
	}
	if err != nil {
		undo()
		v.Close()
		return nil, err
	}
	done()
	return changes, nil
}

// Reload asks the main loop for supervisord's reload (the config read
// anew, daemon settings included, and every process stopped and started
// afresh) and returns once it is requested. A config that does not load
// is reported and changes nothing.
func (d *Daemon) Reload() error {
	v, _, err := d.load(context.Background(), false)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	v.Close()
	select {
	case d.reloadCh <- struct{}{}:
	default: // one is pending already
	}
	return nil
}

// reload performs supervisord's reload. A config that does not load
// changes nothing; daemon settings that only apply at start-up are named
// in the log.
func (d *Daemon) reload(ctx context.Context) error {
	eng, err := d.engine()
	if err != nil {
		return err
	}
	d.txMu.Lock()
	defer d.txMu.Unlock()
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return err
	}
	// The sockets the new config still names stay open from the old
	// processes to the new ones: connections wait in their backlogs.
	release := eng.HoldSockets()
	defer release()
	if _, err := eng.Update(ctx, nil); err != nil {
		v.Close()
		return fmt.Errorf("reload: stop processes: %w", err)
	}
	if cfg.INI != nil {
		logINIWarnings(d.log, cfg)
	}
	dc := cfg.Daemon
	if lv, err := logfile.ParseLevel(dc.LogLevel); err == nil {
		d.ml.level.Set(lv)
	}
	if changed := vm.DaemonRestartNeeded(d.running, dc); len(changed) > 0 {
		d.log.Warn("reload: daemon settings " + strings.Join(changed, ", ") +
			" changed; they take effect when the daemon is restarted")
	}
	d.adopt(v, cfg, nil)
	if _, err := eng.Update(ctx, cfg.Specs); err != nil {
		return fmt.Errorf("reload: start processes: %w", err)
	}
	return nil
}

// Config returns the config loaded last (by start, update or reload).
func (d *Daemon) Config() *vm.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Available returns the specs of the config as last read.
func (d *Daemon) Available(context.Context) ([]supervisor.Spec, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.available, nil
}

// Scale re-resolves one program with n instances in the state its group
// runs in and applies just that program.
func (d *Daemon) Scale(ctx context.Context, program string, n int) ([]supervisor.Change, error) {
	eng, err := d.engine()
	if err != nil {
		return nil, err
	}
	d.txMu.Lock()
	defer d.txMu.Unlock()
	specs, err := d.stateOf(eng, program).Resolve(ctx, program, n)
	if err != nil {
		return nil, fmt.Errorf("scale %s: %w", program, err)
	}
	return eng.UpdateProgram(ctx, program, specs)
}

// stateOf returns the state a program's hooks run in: its group's, or the
// current one for a program not running.
func (d *Daemon) stateOf(eng *supervisor.Engine, program string) *vm.VM {
	specs := eng.Specs()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range specs {
		if s.Program == program && d.owner[s.Group] != nil {
			return d.owner[s.Group]
		}
	}
	return d.vm
}

// current returns the current Lua state.
func (d *Daemon) current() *vm.VM {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.vm
}

// Eval runs a chunk in the current state; ctx ends with the client's
// request.
func (d *Daemon) Eval(ctx context.Context, chunk string) (string, error) {
	v := d.current()
	if v == nil {
		return "", errNotRunning
	}
	return v.Eval(ctx, chunk)
}

// Globals names the current state's Lua globals, for REPL completion.
func (d *Daemon) Globals() []string {
	if v := d.current(); v != nil {
		return v.Globals()
	}
	return nil
}
