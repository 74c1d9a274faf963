package vm

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// hookNames are the program options holding hooks.
var hookNames = []string{"on_start", "on_exit", "on_backoff", "on_state"}

// programOptions are the options program{} accepts: supervisord's
// [program:x] options plus tend's hooks.
var programOptions = map[string]bool{
	"name": true, "command": true, "process_name": true, "numprocs": true, "numprocs_start": true,
	"priority": true, "autostart": true, "startsecs": true, "startretries": true, "autorestart": true,
	"exitcodes": true, "stopsignal": true, "stopwaitsecs": true, "stopasgroup": true, "killasgroup": true,
	"user": true, "directory": true, "umask": true, "environment": true, "redirect_stderr": true,
	"stdout_logfile": true, "stdout_logfile_maxbytes": true, "stdout_logfile_backups": true,
	"stdout_capture_maxbytes": true, "stdout_events_enabled": true, "stdout_syslog": true,
	"stderr_logfile": true, "stderr_logfile_maxbytes": true, "stderr_logfile_backups": true,
	"stderr_capture_maxbytes": true, "stderr_events_enabled": true, "stderr_syslog": true,
	"serverurl": true, "hook_timeout": true,
	"on_start": true, "on_exit": true, "on_backoff": true, "on_state": true,
}

var programOptionNames = sortedKeys(programOptions)

// listenerOptions are the options eventlistener{} accepts besides
// programOptions, as supervisord's [eventlistener:x].
var listenerOptions = map[string]bool{"events": true, "buffer_size": true}

var listenerOptionNames = sortedKeys(func() map[string]bool {
	m := maps.Clone(programOptions)
	maps.Copy(m, listenerOptions)
	return m
}())

// instanceOptions are decoded per instance, after environment and
// process_name, in this order.
var instanceOptions = []string{
	"command", "priority", "autostart", "startsecs", "startretries", "autorestart", "exitcodes",
	"stopsignal", "stopwaitsecs", "stopasgroup", "killasgroup", "user", "directory", "umask",
	"redirect_stderr", "serverurl",
	"stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups", "stdout_capture_maxbytes",
	"stdout_events_enabled", "stdout_syslog",
	"stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups", "stderr_capture_maxbytes",
	"stderr_events_enabled", "stderr_syslog",
}

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

func (l *errorList) add(err error) {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if msg := err.Error(); !l.seen[msg] {
		l.seen[msg] = true
		l.errs = append(l.errs, &ConfigError{Pos: l.pos, What: l.what, Msg: msg})
	}
}

// program resolves every instance of a program. numprocs < 0 means the
// declared numprocs.
func (r *resolver) program(d *programDecl, numprocs int) ([]supervisor.Spec, *hooks, []error) {
	el := &errorList{pos: d.pos, what: d.what()}
	t := d.opts
	isListener := d.kind == "eventlistener"
	known := programOptionNames
	if isListener {
		known = listenerOptionNames
	}
	for _, k := range tableKeys(t) {
		ks, ok := k.(lua.LString)
		if !ok {
			el.add(fmt.Errorf("unexpected value at index %s: options are written name = value", k.String()))
		} else if !programOptions[string(ks)] && !(isListener && listenerOptions[string(ks)]) {
			el.add(errors.New(unknownOption(string(ks), known)))
		}
	}
	static := func(name string) lua.LValue {
		v := t.RawGetString(name)
		if _, ok := v.(*lua.LFunction); ok {
			el.add(fmt.Errorf("%s must be a number, not a function: it is needed before instances exist", name))
			return lua.LNil
		}
		return v
	}
	n, start := 1, 0
	if v := static("numprocs"); v != lua.LNil {
		if x, err := decodeInt("numprocs", v, 0); err != nil {
			el.add(err)
		} else {
			n = x
		}
	}
	if numprocs >= 0 {
		n = numprocs
	}
	if v := static("numprocs_start"); v != lua.LNil {
		if x, err := decodeInt("numprocs_start", v, 0); err != nil {
			el.add(err)
		} else {
			start = x
		}
	}
	h := &hooks{program: d.name, timeout: r.hookTimeout}
	if v := static("hook_timeout"); v != lua.LNil {
		if x, err := decodeSeconds("hook_timeout", v, true); err != nil {
			el.add(err)
		} else {
			h.timeout = x
		}
	}
	for _, name := range hookNames {
		switch f := t.RawGetString(name).(type) {
		case *lua.LNilType:
		case *lua.LFunction:
			h.set(name, f)
		default:
			el.add(fmt.Errorf("%s must be a function, got %s", name, describe(f)))
		}
	}
	if t.RawGetString("command") == lua.LNil {
		el.add(errors.New("command is required"))
	}
	var listener *supervisor.ListenerSpec
	if isListener {
		listener = decodeListener(t, el)
	}
	if n > 1 {
		pn := t.RawGetString("process_name")
		if s, ok := pn.(lua.LString); pn == lua.LNil || ok && !strings.Contains(string(s), "%(process_num)") {
			el.add(errors.New("%(process_num) must be present within process_name when numprocs > 1"))
		}
	}
	if len(el.errs) > 0 {
		return nil, nil, el.errs
	}
	m, ok := r.groupOf[d.name]
	if !ok {
		m = membership{name: d.name}
	}
	specs := make([]supervisor.Spec, 0, n)
	for num := start; num < start+n; num++ {
		if s, ok := r.instance(d, h, m, num, n, el); ok {
			s.Listener = listener
			specs = append(specs, s)
		}
	}
	return specs, h, el.errs
}

// instance resolves one process of a program.
func (r *resolver) instance(d *programDecl, h *hooks, m membership, num, numprocs int, el *errorList) (supervisor.Spec, bool) {
	before := len(el.errs)
	s := supervisor.NewSpec(d.name)
	s.Group, s.Num, s.NumProcs, s.Source, s.HookTimeout = m.name, num, numprocs, d.pos, h.timeout
	x := &expander{r: r, d: d, group: m.name, num: num, numprocs: numprocs}
	var p *lua.LTable
	get := func(name string) lua.LValue {
		v := d.opts.RawGetString(name)
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
			if s.Name != "" {
				p.RawSetString("name", lua.LString(s.Name))
			}
		}
		r.L.Push(fn)
		r.L.Push(p)
		if err := r.L.PCall(1, 1, nil); err != nil {
			el.add(fmt.Errorf("%s: %s", name, luaMessage(err)))
			return lua.LNil
		}
		res := r.L.Get(-1)
		r.L.Pop(1)
		return res
	}
	if v := get("environment"); v != lua.LNil {
		env, err := decodeExpandedEnvironment(v, x.expand)
		if err != nil {
			el.add(err)
		}
		s.Environment, x.env, x.vars = env, env, nil
	}
	name := "%(program_name)s"
	if v := get("process_name"); v != lua.LNil {
		var err error
		if name, err = decodeString("process_name", v); err != nil {
			el.add(err)
		}
	}
	name, err := x.expand(name)
	switch {
	case err != nil:
		el.add(fmt.Errorf("process_name: %v", err))
	case name == "" || strings.ContainsAny(name, ": \t\n"):
		el.add(fmt.Errorf("process_name %q must be non-empty and may not contain ':' or spaces", name))
	}
	s.Name = name
	if p != nil {
		p.RawSetString("name", lua.LString(name))
	}
	for _, opt := range instanceOptions {
		if v := get(opt); v != lua.LNil {
			if err := r.apply(&s, opt, v, x); err != nil {
				el.add(err)
			}
		}
	}
	if d.opts.RawGetString("killasgroup") == lua.LNil {
		s.KillAsGroup = s.StopAsGroup
	} else if s.StopAsGroup && !s.KillAsGroup {
		// supervisord refuses it too: the final SIGKILL would spare the
		// group that the stop signal was sent to.
		el.add(errors.New("killasgroup cannot be false when stopasgroup is true"))
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
		el.add(errors.New("redirect_stderr = true is not allowed: stderr would interfere with the eventlistener protocol on stdout"))
	}
	if h.onExit != nil || h.onBackoff != nil {
		s.Policy = &policy{h: h}
	}
	return s, len(el.errs) == before
}

// apply decodes one option value into s.
func (r *resolver) apply(s *supervisor.Spec, name string, v lua.LValue, x *expander) error {
	var err error
	logSpec := &s.Stdout
	if strings.HasPrefix(name, "stderr_") {
		logSpec = &s.Stderr
	}
	switch name {
	case "command":
		s.Command, s.CommandLine, err = decodeCommand(v, x.expand)
	case "priority":
		s.Priority, err = decodeInt(name, v, math.MinInt32)
	case "autostart":
		s.AutoStart, err = decodeBool(name, v)
	case "startsecs":
		s.StartSecs, err = decodeSeconds(name, v, false)
	case "startretries":
		s.StartRetries, err = decodeStartRetries(v)
	case "autorestart":
		s.AutoRestart, err = decodeAutoRestart(v)
	case "exitcodes":
		s.ExitCodes, err = decodeExitCodes(v)
	case "stopsignal":
		s.StopSignal, err = decodeSignal(name, v)
	case "stopwaitsecs":
		s.StopWait, err = decodeSeconds(name, v, false)
	case "stopasgroup":
		s.StopAsGroup, err = decodeBool(name, v)
	case "killasgroup":
		s.KillAsGroup, err = decodeBool(name, v)
	case "redirect_stderr":
		s.RedirectStderr, err = decodeBool(name, v)
	case "umask":
		s.Umask, err = decodeUmask(name, v)
	case "user":
		var u string
		if u, err = r.expandString(name, v, x); err == nil && u != "" {
			s.User = u
			s.Credential, err = r.credential(u)
		}
	case "directory":
		s.Directory, err = r.expandString(name, v, x)
	case "serverurl":
		s.ServerURL, err = r.expandString(name, v, x)
		if strings.EqualFold(s.ServerURL, "AUTO") {
			s.ServerURL = ""
		}
	case "stdout_logfile", "stderr_logfile":
		logSpec.Path, err = decodeLogPath(name, v, x.expand)
	case "stdout_logfile_maxbytes", "stderr_logfile_maxbytes":
		logSpec.MaxBytes, err = decodeSize(name, v)
	case "stdout_logfile_backups", "stderr_logfile_backups":
		logSpec.Backups, err = decodeInt(name, v, 0)
	case "stdout_capture_maxbytes", "stderr_capture_maxbytes":
		logSpec.CaptureMaxBytes, err = decodeSize(name, v)
	case "stdout_events_enabled", "stderr_events_enabled":
		logSpec.EventsEnabled, err = decodeBool(name, v)
	case "stdout_syslog", "stderr_syslog":
		logSpec.Syslog, err = decodeBool(name, v)
	}
	return err
}

func (r *resolver) expandString(name string, v lua.LValue, x *expander) (string, error) {
	s, err := decodeString(name, v)
	if err != nil {
		return "", err
	}
	if s, err = x.expand(s); err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return s, nil
}

// credential resolves a user once per load.
func (r *resolver) credential(user string) (*syscall.Credential, error) {
	if c, ok := r.creds[user]; ok {
		return c, nil
	}
	c, err := supervisor.LookupCredential(user)
	if err != nil {
		return nil, fmt.Errorf("user: invalid user name %q", user)
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
	{
		x.vars["program_name"] = x.d.name
		x.vars["process_num"] = x.num
		x.vars["group_name"] = x.group
		x.vars["host_node_name"] = x.r.hostname
		x.vars["here"] = x.d.here
		x.vars["numprocs"] = x.numprocs
	}
}

// decodeListener decodes the eventlistener options events and buffer_size.
// They belong to the pool, so they may not be functions of the instance.
func decodeListener(t *lua.LTable, el *errorList) *supervisor.ListenerSpec {
	ls := &supervisor.ListenerSpec{BufferSize: supervisor.DefaultBufferSize}
	if v := t.RawGetString("buffer_size"); v != lua.LNil {
		if n, err := decodeInt("buffer_size", v, 1); err != nil {
			el.add(err)
		} else {
			ls.BufferSize = n
		}
	}
	v := t.RawGetString("events")
	if v == lua.LNil {
		el.add(errors.New(`events is required: a list of event types such as { "PROCESS_STATE", "TICK_60" }`))
		return ls
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
				el.add(fmt.Errorf("events must be a list of event type names, got %s in it", describe(x.RawGetInt(i))))
				return ls
			}
			names = append(names, string(s))
		}
	default:
		el.add(fmt.Errorf("events must be a list of event type names, got %s", describe(v)))
		return ls
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
			el.add(errors.New(msg))
			bad = true
			continue
		}
		if !slices.Contains(ls.Events, n) {
			ls.Events = append(ls.Events, n)
		}
	}
	if len(ls.Events) == 0 && !bad {
		el.add(errors.New(`events must name at least one event type, such as { "PROCESS_STATE" }`))
	}
	return ls
}
