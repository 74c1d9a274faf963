package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/vm"
)

// tendDaemon is the running daemon as the control plane (control.Daemon)
// and Lua's sv module (stdlib.Control) see it: the engine plus the current
// Lua state. Config changes are serialised by updateMu; the current VM and
// config are guarded by mu.
type tendDaemon struct {
	path string // absolute config path
	eng  *supervisor.Engine
	log  *slog.Logger

	updateMu sync.Mutex

	mu        sync.Mutex
	vm        *vm.VM
	cfg       *vm.Config
	available []supervisor.Spec // specs of the config as last read
	retired   []*vm.VM          // VMs still behind groups left out of a partial update

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	reloadCh     chan struct{}
}

func newTendDaemon(path string, log *slog.Logger) *tendDaemon {
	return &tendDaemon{path: path, log: log,
		shutdownCh: make(chan struct{}), reloadCh: make(chan struct{}, 1)}
}

// setEngine attaches the engine, before anything can call into it.
func (d *tendDaemon) setEngine(eng *supervisor.Engine) {
	d.mu.Lock()
	d.eng = eng
	d.mu.Unlock()
}

// engine returns the engine, or an error while the config is first loaded.
func (d *tendDaemon) engine() (*supervisor.Engine, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.eng == nil {
		return nil, errors.New("the daemon is not running yet")
	}
	return d.eng, nil
}

// current returns the VM in use.
func (d *tendDaemon) current() *vm.VM {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.vm
}

// load evaluates the config in a fresh VM. A throwaway VM (reread) gets no
// Control; one that will serve hooks gets the daemon.
func (d *tendDaemon) load(ctx context.Context, live bool) (*vm.VM, *vm.Config, error) {
	opts := vm.Options{Logger: d.log}
	if live {
		opts.Control = svControl{d}
	}
	d.mu.Lock()
	if d.cfg != nil {
		opts.HookTimeout = d.cfg.Daemon.HookTimeout
	}
	d.mu.Unlock()
	v, cfg, err := vm.Load(ctx, d.path, opts)
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	d.available = cfg.Specs
	d.mu.Unlock()
	return v, cfg, nil
}

// swap makes v the current VM. The old one is closed unless a partial
// update leaves some of its hooks in use; those are closed at the next
// full update.
func (d *tendDaemon) swap(v *vm.VM, cfg *vm.Config, partial bool) {
	d.mu.Lock()
	old, retired := d.vm, d.retired
	d.vm, d.cfg = v, cfg
	d.retired = nil
	if partial && old != nil {
		d.retired = append(retired, old)
		old, retired = nil, nil
	}
	d.mu.Unlock()
	if old != nil {
		old.Close()
	}
	for _, r := range retired {
		r.Close()
	}
}

// Reread loads the config in a throwaway VM and returns the plan.
func (d *tendDaemon) Reread(ctx context.Context) ([]supervisor.Change, error) {
	v, cfg, err := d.load(ctx, false)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return d.eng.Plan(cfg.Specs)
}

// Update loads the config anew and applies it to all groups or the named
// ones; on any error nothing changes and the current VM stays.
func (d *tendDaemon) Update(ctx context.Context, groups []string) ([]supervisor.Change, error) {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return nil, err
	}
	var changes []supervisor.Change
	if len(groups) == 0 {
		changes, err = d.eng.Update(ctx, cfg.Specs)
	} else {
		changes, err = d.eng.UpdateGroups(ctx, cfg.Specs, groups)
	}
	if err != nil {
		v.Close()
		return nil, err
	}
	d.swap(v, cfg, len(groups) > 0)
	return changes, nil
}

// Available returns the specs of the config as last read.
func (d *tendDaemon) Available(context.Context) ([]supervisor.Spec, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.available, nil
}

// Scale re-resolves one program with n instances in the current VM and
// applies just that program.
func (d *tendDaemon) Scale(ctx context.Context, program string, n int) ([]supervisor.Change, error) {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	specs, err := d.current().Resolve(ctx, program, n)
	if err != nil {
		return nil, fmt.Errorf("scale %s: %w", program, err)
	}
	return d.eng.UpdateProgram(ctx, program, specs)
}

// Eval runs a chunk in the current VM; ctx ends with the client's request.
func (d *tendDaemon) Eval(ctx context.Context, chunk string) (string, error) {
	return d.current().Eval(ctx, chunk)
}

// Globals names the current VM's Lua globals, for REPL completion.
func (d *tendDaemon) Globals() []string { return d.current().Globals() }

// Restart checks that the config loads, then asks the main loop for a
// full reload and returns at once. A config that does not load is
// reported and changes nothing.
func (d *tendDaemon) Restart() error {
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

// Shutdown asks the main loop to shut down and returns at once.
func (d *tendDaemon) Shutdown() { d.shutdownOnce.Do(func() { close(d.shutdownCh) }) }

// Pid is the daemon's pid.
func (d *tendDaemon) Pid() int { return os.Getpid() }

// reload is supervisord's restart: the config is read anew (daemon
// settings included) and every process is stopped and started afresh. A
// config that does not load changes nothing.
func (d *tendDaemon) reload(ctx context.Context, applyDaemon func(vm.Daemon)) error {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return err
	}
	if _, err := d.eng.Update(ctx, nil); err != nil {
		v.Close()
		return fmt.Errorf("reload: stop processes: %w", err)
	}
	applyDaemon(cfg.Daemon)
	d.swap(v, cfg, false)
	if _, err := d.eng.Update(ctx, cfg.Specs); err != nil {
		return fmt.Errorf("reload: start processes: %w", err)
	}
	return nil
}
