package vm

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// membership is the group a program belongs to.
type membership struct {
	name     string
	priority int
	declared bool // listed in a group{}; otherwise the program's own group
}

// resolver turns declarations into specs. It runs on the owner goroutine.
type resolver struct {
	L           *lua.LState
	s           *loadState
	hookTimeout time.Duration
	hostname    string
	environ     map[string]string // for %(ENV_X)s: the daemon's environment
	creds       map[string]*syscall.Credential
	groupOf     map[string]membership
	// check: load for tend check (Options.Check). What depends on this
	// machine is a warning, collected in s.warns.
	check bool
}

func newResolver(L *lua.LState, s *loadState, d *Daemon) *resolver {
	host, _ := os.Hostname()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, val, ok := strings.Cut(kv, "="); ok {
			env[k] = val
		}
	}
	maps.Copy(env, d.Environment)
	return &resolver{
		L: L, s: s, hookTimeout: d.HookTimeout, hostname: host, environ: env,
		creds: map[string]*syscall.Credential{}, groupOf: map[string]membership{},
	}
}

// errorList collects one declaration's errors, each message once.
type errorList struct {
	pos, what string
	seen      map[string]bool
	errs      []error
}

func (l *errorList) add(err error) { l.at("", err) }

// at adds an error about option opt ("" for none, "socket.mode" for a
// field of a sub-table), so that it can be located at the option's line.
func (l *errorList) at(opt string, err error) {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if msg := err.Error(); !l.seen[msg] {
		l.seen[msg] = true
		l.errs = append(l.errs, &ConfigError{Pos: l.pos, What: l.what, Msg: msg, Option: opt})
	}
}

// program resolves every instance of a program. numprocs < 0 means the
// declared numprocs.
func (r *resolver) program(d *programDecl, numprocs int) ([]supervisor.Spec, *hooks, []error) {
	el := &errorList{pos: d.pos, what: d.what()}
	t := d.opts
	isListener := d.kind == "eventlistener"
	checkOptionNames(t, d.kind, el)
	// base holds what is decoded once for the whole program; each
	// instance starts from a copy of it.
	base := supervisor.NewSpec(d.name)
	base.HookTimeout = r.hookTimeout
	if isListener {
		base.Listener = &supervisor.ListenerSpec{BufferSize: supervisor.DefaultBufferSize}
	}
	if d.kind == "fcgi_program" {
		base.Socket = &supervisor.SocketSpec{Mode: -1, Uid: -1, Gid: -1}
	}
	m, ok := r.groupOf[d.name]
	if !ok {
		m = membership{name: d.name}
	}
	// The options read before the instances exist expand without
	// %(process_num)s and %(numprocs)s, as in supervisord.
	var px *expander
	for _, o := range optionsAt(perProgram, d.kind) {
		switch v := t.RawGetString(o.Name); v.(type) {
		case *lua.LNilType:
		case *lua.LFunction:
			if o.Kind == supervisor.KindInt || o.Kind == supervisor.KindSeconds {
				el.at(o.Name, fmt.Errorf("%s must be a number, not a function: it is needed before instances exist", o.Name))
			} else {
				el.at(o.Name, fmt.Errorf("%s cannot be a function: it belongs to the whole program, not to one instance", o.Name))
			}
		default:
			if px == nil {
				px = &expander{r: r, d: d, group: m.name, program: true}
			}
			var me *machineError
			if err := r.decodeOption(&base, o, v, px); errors.As(err, &me) && r.check {
				r.s.warns = append(r.s.warns, &ConfigError{Pos: d.pos, What: d.what(), Msg: err.Error(), Option: o.Name})
			} else if err != nil {
				el.at(o.Name, err)
			}
		}
	}
	if numprocs >= 0 {
		base.NumProcs = numprocs
	}
	h := &hooks{program: d.name, timeout: base.HookTimeout}
	for _, name := range hookNames {
		switch f := t.RawGetString(name).(type) {
		case *lua.LNilType:
		case *lua.LFunction:
			h.set(name, f)
		default:
			el.at(name, fmt.Errorf("%s must be a function, got %s", name, describe(f)))
		}
	}
	if t.RawGetString("command") == lua.LNil {
		el.add(errors.New("command is required"))
	}
	if base.Socket != nil {
		checkFCGI(t, &base, el)
	}
	if isListener {
		if px == nil {
			px = &expander{r: r, d: d, group: m.name, program: true}
		}
		decodeEvents(t, base.Listener, el, px)
	}
	if base.NumProcs > 1 {
		pn := t.RawGetString("process_name")
		if s, ok := pn.(lua.LString); pn == lua.LNil || ok && !strings.Contains(string(s), "%(process_num)") {
			el.at("process_name", errors.New("%(process_num) must be present within process_name when numprocs > 1"))
		}
	}
	specs := make([]supervisor.Spec, 0, base.NumProcs)
	// Every instance is resolved even after an error (an unknown option, a
	// bad numprocs), so that one load reports every mistake.
	wl := &errorList{pos: d.pos, what: d.what()}
	for num := base.NumProcsStart; num < base.NumProcsStart+base.NumProcs; num++ {
		if s, ok := r.instance(d, &base, h, m, num, el, wl); ok {
			specs = append(specs, s)
			if r.check {
				r.checkMachine(&s, wl)
			}
		}
	}
	r.s.warns = append(r.s.warns, wl.errs...)
	if len(el.errs) > 0 {
		return nil, nil, el.errs
	}
	return specs, h, nil
}

// instance resolves one process of a program.
func (r *resolver) instance(d *programDecl, base *supervisor.Spec, h *hooks, m membership, num int, el, wl *errorList) (supervisor.Spec, bool) {
	before := len(el.errs)
	s := *base
	s.ExitCodes = slices.Clone(base.ExitCodes)
	s.Group, s.Num, s.Source = m.name, num, d.pos
	numprocs := s.NumProcs
	x := &expander{r: r, d: d, group: m.name, num: num, numprocs: numprocs}
	var p *lua.LTable
	name := "" // the resolved process_name, p.name once known
	get := func(opt string) lua.LValue {
		v := d.opts.RawGetString(opt)
		fn, ok := v.(*lua.LFunction)
		if !ok {
			return v
		}
		if p == nil {
			p = r.L.CreateTable(0, 5)
			p.RawSetString("program", lua.LString(d.name))
			p.RawSetString("group", lua.LString(m.name))
			p.RawSetString("num", lua.LNumber(num))
			p.RawSetString("numprocs", lua.LNumber(numprocs))
		}
		if name != "" {
			p.RawSetString("name", lua.LString(name))
		}
		r.L.Push(fn)
		r.L.Push(p)
		if err := r.L.PCall(1, 1, nil); err != nil {
			el.at(opt, fmt.Errorf("%s: %s", opt, luaMessage(err)))
			return lua.LNil
		}
		res := r.L.Get(-1)
		r.L.Pop(1)
		return res
	}
	environment := func() {
		if v := get("environment"); v != lua.LNil {
			env, err := decodeExpandedEnvironment(v, x.expand)
			if err != nil {
				el.at("environment", err)
			}
			s.Environment, x.env = env, env
			if x.withEnv {
				x.vars = nil // its ENV_ names lack the program's own
			}
		}
	}
	pattern := "%(program_name)s"
	if v := get("process_name"); v != lua.LNil {
		var err error
		if pattern, err = decodeString("process_name", v); err != nil {
			el.at("process_name", err)
		}
	}
	// supervisord expands process_name after the environment, whose
	// variables it may use as %(ENV_X)s. An environment that is a function
	// of p needs p.name, the process_name, first: its %(ENV_X)s then come
	// from the daemon's environment only.
	_, envIsFunc := d.opts.RawGetString("environment").(*lua.LFunction)
	envFirst := !envIsFunc && strings.Contains(pattern, "%(ENV_")
	if envFirst {
		environment()
	}
	name, err := x.expand(pattern)
	switch {
	case err != nil:
		el.at("process_name", fmt.Errorf("process_name: %v", err))
	case name == "" || strings.ContainsAny(name, ": \t\n"):
		el.at("process_name", fmt.Errorf("process_name %q must be non-empty and may not contain ':' or spaces", name))
	}
	s.Name = name
	if !envFirst {
		environment()
	}
	for _, o := range optionsAt(perInstance, d.kind) {
		if v := get(o.Name); v != lua.LNil {
			var me *machineError
			if err := r.decodeOption(&s, o, v, x); errors.As(err, &me) && r.check {
				wl.at(o.Name, err)
			} else if err != nil {
				el.at(o.Name, err)
			}
		}
	}
	if d.opts.RawGetString("killasgroup") == lua.LNil {
		s.KillAsGroup = s.StopAsGroup
	} else if s.StopAsGroup && !s.KillAsGroup {
		// supervisord refuses it too: the final SIGKILL would spare the
		// group that the stop signal was sent to.
		el.at("killasgroup", errors.New("killasgroup cannot be false when stopasgroup is true"))
	}
	switch {
	case m.declared:
		s.GroupPriority = m.priority
	case d.kind == "eventlistener" && d.opts.RawGetString("priority") == lua.LNil:
		// supervisord gives a pool priority -1, so that listeners start
		// first and stop last; its processes keep 999.
		s.GroupPriority = -1
	default:
		s.GroupPriority = s.Priority
	}
	if d.kind == "eventlistener" && s.RedirectStderr {
		el.at("redirect_stderr", errors.New("redirect_stderr = true is not allowed: stderr would interfere with the eventlistener protocol on stdout"))
	}
	if h.onExit != nil || h.onBackoff != nil {
		s.Policy = &policy{h: h}
	}
	defaultSocketOwners(&s)
	return s, len(el.errs) == before
}

// credential resolves a user once per load.
func (r *resolver) credential(user string) (*syscall.Credential, error) {
	if c, ok := r.creds[user]; ok {
		return c, nil
	}
	c, err := supervisor.LookupCredential(user)
	if err != nil {
		return nil, &machineError{fmt.Errorf("user: invalid user name %q", user)}
	}
	r.creds[user] = c
	return c, nil
}

// expander applies supervisord's %(name)s expansions for one instance.
type expander struct {
	r             *resolver
	d             *programDecl
	group         string
	num, numprocs int
	env           map[string]string // the program's environment
	vars          map[string]any    // built on first use
	withEnv       bool              // vars holds the ENV_ names
	program       bool              // for the whole program: no process_num, numprocs
}

// expandFunc returns x.expand, or nil for no expander.
func (x *expander) expandFunc() func(string) (string, error) {
	if x == nil {
		return nil
	}
	return x.expand
}

func (x *expander) expand(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	// The ENV_ names are many: copy them only for strings that may use
	// them (or that fail, so the error lists every name).
	needEnv := strings.Contains(s, "%(ENV_")
	if x.vars == nil || needEnv && !x.withEnv {
		x.build(needEnv)
	}
	out, err := supervisor.Expand(s, x.vars)
	if err != nil && !x.withEnv {
		x.build(true)
		out, err = supervisor.Expand(s, x.vars)
	}
	return out, err
}

// build fills vars, with the ENV_ names when withEnv is set.
func (x *expander) build(withEnv bool) {
	x.withEnv = withEnv
	x.vars = make(map[string]any, 8)
	if withEnv {
		x.vars = make(map[string]any, len(x.r.environ)+len(x.env)+6)
		for k, val := range x.r.environ {
			x.vars["ENV_"+k] = val
		}
		for k, val := range x.env {
			x.vars["ENV_"+k] = val
		}
	}
	x.vars["program_name"] = x.d.name
	x.vars["group_name"] = x.group
	x.vars["host_node_name"] = x.r.hostname
	x.vars["here"] = x.d.here
	if !x.program {
		x.vars["process_num"] = x.num
		x.vars["numprocs"] = x.numprocs
	}
}

// decodeEvents decodes the eventlistener option events into ls. It
// belongs to the pool, so it may not be a function of the instance.
func decodeEvents(t *lua.LTable, ls *supervisor.ListenerSpec, el *errorList, x *expander) {
	v, err := expandValue("events", t.RawGetString("events"), x.expand)
	if err != nil {
		el.at("events", err)
		return
	}
	if v == lua.LNil {
		el.at("events", errors.New(`events is required: a list of event types such as { "PROCESS_STATE", "TICK_60" }`))
		return
	}
	var names []string
	switch x := v.(type) {
	case lua.LString: // supervisord's comma-separated form
		for _, n := range strings.Split(string(x), ",") {
			names = append(names, strings.TrimSpace(n))
		}
	case *lua.LTable:
		for i := 1; i <= x.Len(); i++ {
			s, ok := x.RawGetInt(i).(lua.LString)
			if !ok {
				el.at("events", fmt.Errorf("events must be a list of event type names, got %s in it", describe(x.RawGetInt(i))))
				return
			}
			names = append(names, string(s))
		}
	default:
		el.at("events", fmt.Errorf("events must be a list of event type names, got %s", describe(v)))
		return
	}
	known := supervisor.EventTypeNames()
	lower := make([]string, len(known)) // suggest compares in lower case
	for i, k := range known {
		lower[i] = strings.ToLower(k)
	}
	bad := false
	for _, written := range names {
		n := strings.ToUpper(written) // supervisord upper-cases the names
		if n == "" {
			continue
		}
		if !slices.Contains(known, n) {
			msg := fmt.Sprintf("events: unknown event type %q", written)
			if sug := suggest(n, lower); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", strings.ToUpper(sug))
			}
			el.at("events", errors.New(msg))
			bad = true
			continue
		}
		if !slices.Contains(ls.Events, n) {
			ls.Events = append(ls.Events, n)
		}
	}
	if len(ls.Events) == 0 && !bad {
		el.at("events", errors.New(`events must name at least one event type, such as { "PROCESS_STATE" }`))
	}
}

// machineError is a mistake that depends on the machine the config is
// loaded on (a user that does not exist here): an error for the daemon, a
// warning for tend check.
type machineError struct{ error }

func (e *machineError) Unwrap() error { return e.error }

// checkMachine warns, for tend check, about what a spawn of s would miss
// on this machine: its command on PATH, its directory, the folders of its
// log files.
func (r *resolver) checkMachine(s *supervisor.Spec, wl *errorList) {
	if len(s.Command) > 0 {
		path := s.Environment["PATH"]
		if path == "" {
			path = r.environ["PATH"]
		}
		argv0 := s.Command[0]
		if strings.Contains(argv0, "/") && !filepath.IsAbs(argv0) && s.Directory != "" {
			argv0 = filepath.Join(s.Directory, argv0)
		}
		if _, err := supervisor.ResolveCommand(argv0, []string{"PATH=" + path}); err != nil {
			wl.at("command", fmt.Errorf("command: %v", err))
		}
	}
	if s.Directory != "" {
		if st, err := os.Stat(s.Directory); err != nil || !st.IsDir() {
			wl.at("directory", fmt.Errorf("directory %s does not exist", s.Directory))
		}
	}
	for _, l := range []struct {
		opt  string
		path string
	}{{"stdout_logfile", s.Stdout.Path}, {"stderr_logfile", s.Stderr.Path}} {
		if l.path == supervisor.LogAuto || l.path == supervisor.LogNone || l.path == "" ||
			l.opt == "stderr_logfile" && s.RedirectStderr {
			continue
		}
		dir := filepath.Dir(l.path)
		if !filepath.IsAbs(dir) && s.Directory != "" {
			dir = filepath.Join(s.Directory, dir)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			wl.at(l.opt, fmt.Errorf("%s: folder %s does not exist", l.opt, dir))
		}
	}
}
