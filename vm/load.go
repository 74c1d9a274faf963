package vm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// DefaultLoadTimeout bounds a config run (and a Resolve) when neither
// Options.LoadTimeout nor the caller's context sets a deadline.
const DefaultLoadTimeout = 10 * time.Second

// Load evaluates the config at path in a new VM (its own LState and owner
// goroutine) and returns the VM with the resolved configuration. Every
// mistake found is reported, joined in one error; on error the VM is
// closed and nil returned, so nothing starts from a bad config. The run
// is bounded by ctx and by opts.LoadTimeout (DefaultLoadTimeout if 0):
// a config still running then is stopped, and the error says where it
// was. Load returns promptly when ctx ends, even if a Go function holds
// the VM (the VM is then abandoned).
func Load(ctx context.Context, path string, opts Options) (*VM, *Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", path, err)
	}
	v := newVM(path, filepath.Dir(abs), opts)
	lctx, cancel := context.WithTimeout(ctx, v.loadTimeout)
	defer cancel()
	var cfg *Config
	err = v.run(lctx, "loading "+path, func(L *lua.LState) error {
		var err error
		cfg, err = v.load(L, abs)
		return err
	})
	if err != nil {
		v.Close()
		return nil, nil, v.ini.mapError(loadFailure(ctx, path, opts, v.loadTimeout, err))
	}
	if v.ini != nil {
		cfg.INI = v.ini.info()
		for i := range cfg.Specs {
			cfg.Specs[i].Source = v.ini.rewrite(cfg.Specs[i].Source)
		}
		for i, w := range cfg.Warnings {
			cfg.Warnings[i] = v.ini.mapError(errors.New(w)).Error()
		}
	}
	v.serving.Store(true)
	return v, cfg, nil
}

// loadFailure words why a load failed.
func loadFailure(ctx context.Context, path string, opts Options, timeout time.Duration, err error) error {
	var ie *Interrupted
	if !errors.As(err, &ie) {
		if errors.Is(err, ErrStuck) {
			return fmt.Errorf("load %s: %w", path, err)
		}
		return err
	}
	var be *BudgetError
	switch {
	case errors.As(ie.Cause, &be):
		return fmt.Errorf("load %s: stopped%s: %w", path, ie.where(), be)
	case errors.Is(ie.Cause, context.DeadlineExceeded) && ctx.Err() == nil:
		setting := "load_timeout"
		if opts.LoadTimeout <= 0 {
			setting = "the default load_timeout"
		}
		return fmt.Errorf("load %s: stopped%s: still running after %s (%s; a runaway loop in the config?)",
			path, ie.where(), timeout, setting)
	case errors.Is(ie.Cause, context.DeadlineExceeded):
		return fmt.Errorf("load %s: stopped%s: still running at the caller's deadline (a runaway loop in the config?)",
			path, ie.where())
	case ctx.Err() != nil:
		return fmt.Errorf("load %s: cancelled%s: %w", path, ie.where(), context.Cause(ctx))
	}
	return fmt.Errorf("load %s: %w", path, ie)
}

func isConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// load runs the config file and resolves what it declared. It runs on the
// owner goroutine.
func (v *VM) load(L *lua.LState, abs string) (*Config, error) {
	s := newLoadState()
	v.installDeclarations(L, s)
	v.sources = map[string][]byte{}
	defer func() { v.sources = nil }()
	fn, ini, err := v.compileConfig(L, abs)
	if err != nil {
		return nil, errors.New(luaMessage(err))
	}
	v.ini = ini
	s.running = []string{abs}
	L.Push(fn)
	if err := L.PCall(0, 0, v.onError); err != nil {
		if L.Context().Err() != nil {
			return nil, err // stopped: run reports where it was
		}
		v.locate(s.errs)
		sortByLine(s.errs)
		return nil, errors.Join(append(s.errs, errors.New(luaMessage(err)))...)
	}
	for name, kp := range s.pending {
		kind, pos, _ := strings.Cut(kp, "\x00")
		s.errorf(pos, fmt.Sprintf("%s %q", kind, name), `has no option table: write %s %q { command = "..." }`, kind, name)
	}
	d := defaultDaemon(v.opts)
	if s.daemon != nil {
		s.errs = append(s.errs, decodeDaemon(s.daemon, &d)...)
	}
	v.hookTimeout = d.HookTimeout
	v.exitHook = d.exitHook
	v.memLimit = d.LuaMemoryLimit
	v.loadTimeout = d.LoadTimeout
	r := newResolver(L, s, &d)
	r.check = v.opts.Check
	groups := r.groups()
	cfg := &Config{Path: v.path, Daemon: d, Groups: groups, hooks: map[string][]string{},
		Specs: make([]supervisor.Spec, 0, len(s.programs))} // most programs have one process
	observers := map[string]*hooks{}
	owner := map[string]*programDecl{}
	for _, pd := range s.programs {
		if err := L.Context().Err(); err != nil {
			return nil, err // out of time while resolving: stop, not stuck
		}
		specs, h, errs := r.program(pd, -1)
		s.errs = append(s.errs, errs...)
		// Grown once per program, not by doubling: copying thousands of
		// specs (with their write barriers) was a third of a numprocs =
		// 5000 load.
		cfg.Specs = slices.Grow(cfg.Specs, len(specs))
		for _, sp := range specs {
			ns := sp.Namespec()
			if prev, ok := owner[ns]; ok {
				s.errorf(pd.pos, pd.what(), "process %q is also declared by %s at %s", ns, prev.what(), prev.pos)
				continue
			}
			owner[ns] = pd
			if names := h.names(); len(names) > 0 {
				cfg.hooks[ns] = names
			}
			if h.onStart != nil || h.onState != nil || h.onReady != nil {
				observers[ns] = h
			}
			if pol, ok := sp.Policy.(*policy); ok {
				pol.v = v
			}
			bindChecks(&sp, v)
			cfg.Specs = append(cfg.Specs, sp)
		}
	}
	if len(s.errs) == 0 {
		s.errs = checkRequires(cfg.Specs, owner)
	}
	if len(s.errs) > 0 {
		v.locate(s.errs)
		sortByLine(s.errs)
		return nil, errors.Join(s.errs...)
	}
	v.locate(s.warns)
	sortByLine(s.warns)
	for _, w := range s.warns {
		cfg.Warnings = append(cfg.Warnings, w.Error())
	}
	cfg.Included = s.included
	v.state = s
	v.resolver = r
	v.mu.Lock()
	v.observers = observers
	v.mu.Unlock()
	return cfg, nil
}

// groups decodes the group{} declarations and records each member's group.
func (r *resolver) groups() []supervisor.GroupSpec {
	var out []supervisor.GroupSpec
	for _, g := range r.s.groups {
		el := &errorList{pos: g.pos, what: fmt.Sprintf("group %q", g.name)}
		gs := supervisor.GroupSpec{Name: g.name, Priority: supervisor.DefaultPriority}
		for _, k := range tableKeys(g.opts) {
			v := g.opts.RawGet(k)
			switch k.String() {
			case "name":
			case "priority":
				v, err := expandValue("priority", v, r.groupExpander(g).expand)
				if err == nil {
					gs.Priority, err = decodeInt("priority", v, 0)
				}
				if err != nil {
					el.at("priority", err)
				}
			case "programs":
				gs.Programs = r.groupPrograms(v, el)
			default:
				el.at(k.String(), errors.New(unknownOption(k.String(), []string{"name", "priority", "programs"})))
			}
		}
		if g.opts.RawGetString("programs") == lua.LNil {
			el.add(errors.New(`programs is required: a list of program names such as { "web", "worker" }`))
		}
		if p, ok := r.s.byName[g.name]; ok && !slices.Contains(gs.Programs, g.name) {
			el.add(fmt.Errorf("name already used by program %q at %s (as its own group)", g.name, p.pos))
		}
		for _, name := range gs.Programs {
			if prev, ok := r.groupOf[name]; ok {
				el.at("programs", fmt.Errorf("program %q is already in group %q", name, prev.name))
				continue
			}
			r.groupOf[name] = membership{name: g.name, priority: gs.Priority, declared: true}
		}
		r.s.errs = append(r.s.errs, el.errs...)
		out = append(out, gs)
	}
	return out
}

// groupExpander expands a group's values as supervisord does: %(here)s
// and %(ENV_X)s.
func (r *resolver) groupExpander(g *groupDecl) *daemonDecoding {
	vars := make(map[string]any, len(r.environ)+1)
	for k, val := range r.environ {
		vars["ENV_"+k] = val
	}
	vars["here"] = g.here
	return &daemonDecoding{vars: vars}
}

// groupPrograms decodes a group's programs list; each must be declared.
func (r *resolver) groupPrograms(v lua.LValue, el *errorList) []string {
	t, ok := v.(*lua.LTable)
	if !ok {
		el.at("programs", fmt.Errorf("programs must be a list of program names, got %s", describe(v)))
		return nil
	}
	known := make([]string, 0, len(r.s.programs))
	for _, p := range r.s.programs {
		known = append(known, p.name)
	}
	var names []string
	for i := 1; i <= t.Len(); i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			el.at("programs", fmt.Errorf("programs must be a list of program names, got %s in it", describe(t.RawGetInt(i))))
			continue
		}
		if d, ok := r.s.byName[string(s)]; ok && d.kind == "eventlistener" {
			el.at("programs", fmt.Errorf("eventlistener %q cannot be in a group: its pool is its own group", string(s)))
			continue
		}
		if _, ok := r.s.byName[string(s)]; !ok {
			msg := fmt.Sprintf("unknown program %q", string(s))
			if sug := suggest(string(s), known); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			el.at("programs", errors.New(msg))
			continue
		}
		names = append(names, string(s))
	}
	return names
}
