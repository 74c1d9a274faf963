package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// daemonOption is one daemon{} option, declared once: its name and value,
// default and doc line (for tend init), whether a change needs a daemon
// restart, and where Daemon keeps it.
type daemonOption struct {
	name string
	kind supervisor.Kind
	// def is the default as supervisord writes it; "" when it depends on
	// the machine, and tend init shows example instead, commented out.
	def, example, doc string
	// restart means a change only takes effect when the daemon restarts:
	// a reload reports it (DaemonRestartNeeded) rather than applying it.
	restart bool
	// field returns a pointer to the Daemon field that holds the value.
	field func(*Daemon) any
	// decode sets the option from v; nil decodes by kind into field.
	decode func(d *Daemon, name string, v lua.LValue, c *daemonDecoding) error
}

// daemonOptions are the options daemon{} accepts, in tend init's order.
// socket and http are tables, written out by hand in the sample.
var daemonOptions = slices.Concat([]daemonOption{
	{name: "logfile", kind: supervisor.KindString, example: "tend.log", restart: true,
		doc:   "default: tend.log in the daemon's working directory",
		field: func(d *Daemon) any { return &d.Logfile }},
	{name: "logfile_maxbytes", kind: supervisor.KindSize, def: "50MB", restart: true,
		doc:   "rotate the daemon log at this size (0 = never)",
		field: func(d *Daemon) any { return &d.LogfileMaxBytes }},
	{name: "logfile_backups", kind: supervisor.KindInt, def: "10", restart: true,
		doc:   "rotated daemon logs kept (0 = truncate in place)",
		field: func(d *Daemon) any { return &d.LogfileBackups }},
	{name: "loglevel", kind: supervisor.KindString, def: "info", decode: decodeLogLevel,
		doc:   "critical, error, warn, info, debug, trace, blather",
		field: func(d *Daemon) any { return &d.LogLevel }},
	{name: "pidfile", kind: supervisor.KindString, example: "/run/tend.pid", restart: true,
		doc:   "default: none",
		field: func(d *Daemon) any { return &d.Pidfile }},
	{name: "childlogdir", kind: supervisor.KindString, example: "/var/log/tend", restart: true,
		doc:   "where AUTO child logs go; default: the temp folder",
		field: func(d *Daemon) any { return &d.ChildLogDir }},
	{name: "directory", kind: supervisor.KindString, example: "/", restart: true,
		doc:   "chdir here at start; default: stay",
		field: func(d *Daemon) any { return &d.Directory }},
	{name: "user", kind: supervisor.KindString, example: "www-data", restart: true,
		doc:   "started as root, become this user once the socket, logs and pidfile are open",
		field: func(d *Daemon) any { return &d.User }},
	{name: "umask", kind: supervisor.KindOctal, def: "022", restart: true,
		doc:   "the daemon's umask",
		field: func(d *Daemon) any { return &d.Umask }},
	{name: "identifier", kind: supervisor.KindString, def: "supervisor", restart: true,
		doc:   "reported by getIdentification",
		field: func(d *Daemon) any { return &d.Identifier }},
	{name: "nocleanup", kind: supervisor.KindBool, def: "false", restart: true,
		doc:   "keep old AUTO child logs at start-up",
		field: func(d *Daemon) any { return &d.Nocleanup }},
	{name: "minfds", kind: supervisor.KindInt, def: "1024", restart: true,
		doc:   "raise the open-files limit to at least this",
		field: func(d *Daemon) any { return &d.Minfds },
		decode: func(d *Daemon, name string, v lua.LValue, _ *daemonDecoding) (err error) {
			d.Minfds, err = decodeInt(name, v, 1)
			return err
		}},
	{name: "environment", kind: supervisor.KindEnvironment, example: "TZ=UTC", restart: true,
		doc:   "added to every child's environment",
		field: func(d *Daemon) any { return &d.Environment }},
	{name: "hook_timeout", kind: supervisor.KindSeconds, def: "1",
		doc:   "seconds a hook may run before it is cancelled",
		field: func(d *Daemon) any { return &d.HookTimeout },
		decode: func(d *Daemon, name string, v lua.LValue, _ *daemonDecoding) (err error) {
			d.HookTimeout, err = decodeSeconds(name, v, true)
			return err
		}},
	{name: "load_timeout", kind: supervisor.KindSeconds, def: "10",
		doc:   "seconds the next config load may run (a reload, update, reread)",
		field: func(d *Daemon) any { return &d.LoadTimeout },
		decode: func(d *Daemon, name string, v lua.LValue, _ *daemonDecoding) (err error) {
			d.LoadTimeout, err = decodeSeconds(name, v, true)
			return err
		}},
	{name: "lua_memory_limit", kind: supervisor.KindSize, def: "64MB",
		doc:   "heap growth a Lua call may cause before it is stopped (0 = none)",
		field: func(d *Daemon) any { return &d.LuaMemoryLimit },
		decode: func(d *Daemon, _ string, v lua.LValue, _ *daemonDecoding) (err error) {
			d.LuaMemoryLimit, err = decodeMemoryLimit(v)
			return err
		}},
	{name: "subreaper", kind: supervisor.KindBool, def: "true", restart: true,
		doc:   "adopt and reap orphaned grandchildren",
		field: func(d *Daemon) any { return &d.Subreaper }},
	{name: "orphans", kind: supervisor.KindString, def: "stop", restart: true,
		doc:   `processes a killed tend left running: "stop" them or "adopt" them`,
		field: func(d *Daemon) any { return &d.Orphans },
		decode: func(d *Daemon, name string, v lua.LValue, _ *daemonDecoding) error {
			s, err := decodeString(name, v)
			if err == nil {
				d.Orphans, err = supervisor.ParseOrphanMode(s)
			}
			return err
		}},
	{name: "socket", restart: true, decode: decodeSocket,
		doc:   "the control socket used by the tend CLI and supervisorctl",
		field: func(d *Daemon) any { return &d.Socket }},
	{name: "http", restart: true, decode: decodeHTTP,
		doc:   "the optional TCP listener",
		field: func(d *Daemon) any { return &d.HTTP }},
}, containerOptions)

var (
	daemonOptionNames = func() []string {
		var names []string
		for _, o := range daemonOptions {
			names = append(names, o.name)
		}
		slices.Sort(names)
		return names
	}()
	socketOptionNames = []string{"mode", "owner", "path"}
	httpOptionNames   = []string{"allow_no_auth", "listen", "password", "username"}
)

// DaemonRestartNeeded names the daemon{} options that differ between the
// running daemon (old) and a reloaded config (cur) but only take effect
// when the daemon restarts (sockets, the main log, the children's base
// environment), so that a reload can say so rather than ignore them.
func DaemonRestartNeeded(old, cur Daemon) []string {
	var out []string
	for _, o := range daemonOptions {
		if o.restart && !sameDaemonValue(o.field(&old), o.field(&cur)) {
			out = append(out, o.name)
		}
	}
	return out
}

// sameDaemonValue compares two option values through their pointers; an
// empty map equals a nil one, and pointers compare what they point at.
func sameDaemonValue(a, b any) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	if va.Kind() == reflect.Map && va.Len() == 0 && vb.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(va.Interface(), vb.Interface())
}

// defaultDaemon returns the daemon settings when daemon{} sets nothing.
func defaultDaemon(opts Options) Daemon {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "."
	}
	sock := "/run/tend.sock"
	if uid := os.Getuid(); uid != 0 {
		sock = fmt.Sprintf("/tmp/tend-%d.sock", uid)
	}
	// The defaults that depend on the machine; the table has the others.
	d := Daemon{Logfile: filepath.Join(cwd, "tend.log"), Socket: SocketConfig{Path: sock, Mode: 0o700}}
	c := &daemonDecoding{el: &errorList{}}
	for _, o := range daemonOptions {
		if o.def == "" {
			continue
		}
		// Every decoder takes supervisord's text form; a default that does
		// not decode is a mistake in the table (TestSampleLoadsWithDefaults).
		if err := o.set(&d, lua.LString(o.def), c); err != nil {
			panic(fmt.Sprintf("daemon option %s: default %q: %v", o.name, o.def, err))
		}
	}
	if opts.HookTimeout > 0 {
		d.HookTimeout = opts.HookTimeout
	}
	return d
}

// daemonDecoding is what decoding one daemon{} declaration shares.
type daemonDecoding struct {
	el   *errorList
	vars map[string]any // for %(here)s and %(ENV_X)s
}

// expand applies %(here)s and %(ENV_X)s, which supervisord expands in
// every value of its own sections.
func (c *daemonDecoding) expand(s string) (string, error) { return supervisor.Expand(s, c.vars) }

// expandFunc returns c.expand, or nil when there is nothing to expand
// with (the defaults).
func (c *daemonDecoding) expandFunc() func(string) (string, error) {
	if c.vars == nil {
		return nil
	}
	return c.expand
}

// field decodes one string field of a daemon{} sub-table (socket, http),
// expanded.
func (c *daemonDecoding) field(name string, v lua.LValue) (string, error) {
	v, err := expandValue(name, v, c.expandFunc())
	if err != nil {
		return "", err
	}
	return decodeString(name, v)
}

// decodeDaemon applies a daemon{} declaration to d.
func decodeDaemon(dd *daemonDecl, d *Daemon) []error {
	c := &daemonDecoding{el: &errorList{pos: dd.pos, what: "daemon"}, vars: map[string]any{"here": dd.here}}
	for _, kv := range os.Environ() {
		if k, val, ok := strings.Cut(kv, "="); ok {
			c.vars["ENV_"+k] = val
		}
	}
	for _, k := range tableKeys(dd.opts) {
		v := dd.opts.RawGet(k)
		ks, ok := k.(lua.LString)
		if !ok {
			c.el.add(fmt.Errorf("unexpected value at index %s: options are written name = value", k.String()))
			continue
		}
		i := slices.IndexFunc(daemonOptions, func(o daemonOption) bool { return o.name == string(ks) })
		if i < 0 {
			c.el.at(string(ks), errors.New(unknownOption(string(ks), daemonOptionNames)))
			continue
		}
		if err := daemonOptions[i].set(d, v, c); err != nil {
			c.el.at(string(ks), err)
		}
	}
	return c.el.errs
}

// set decodes v into d. A string value is expanded first, whatever the
// option's kind, as supervisord expands every [supervisord] value.
func (o daemonOption) set(d *Daemon, v lua.LValue, c *daemonDecoding) error {
	v, err := expandValue(o.name, v, c.expandFunc())
	if err != nil {
		return err
	}
	if o.decode != nil {
		return o.decode(d, o.name, v, c)
	}
	val, err := decodeKind(o.kind, o.name, v, c.expand)
	if err != nil {
		return err
	}
	return setField(o.name, o.field(d), val)
}

// decodeLogLevel accepts supervisord's level names in any case.
func decodeLogLevel(d *Daemon, name string, v lua.LValue, _ *daemonDecoding) error {
	s, err := decodeString(name, v)
	if err == nil {
		if _, err = logfile.ParseLevel(s); err != nil {
			err = fmt.Errorf("loglevel must be one of critical, error, warn, info, debug, trace, blather, got %s", describe(v))
		}
	}
	d.LogLevel = strings.ToLower(s)
	return err
}

// decodeSocket decodes socket = { path, mode, owner } into d.Socket.
func decodeSocket(d *Daemon, _ string, v lua.LValue, c *daemonDecoding) error {
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf(`socket must be a table such as { path = "/run/tend.sock" }, got %s`, describe(v))
	}
	sc := &d.Socket
	for _, k := range tableKeys(t) {
		v := t.RawGet(k)
		var err error
		switch k.String() {
		case "path":
			sc.Path, err = c.field("socket.path", v)
		case "mode":
			if v, err = expandValue("socket.mode", v, c.expandFunc()); err == nil {
				sc.Mode, err = decodeMode("socket.mode", v)
			}
		case "owner":
			sc.Owner, err = c.field("socket.owner", v)
		default:
			err = errors.New("socket: " + unknownOption(k.String(), socketOptionNames))
		}
		if err != nil {
			c.el.at("socket."+k.String(), err)
		}
	}
	return nil
}

// decodeHTTP decodes http = { listen, username, password, allow_no_auth }
// (or false) into d.HTTP.
func decodeHTTP(d *Daemon, _ string, v lua.LValue, c *daemonDecoding) error {
	d.HTTP = nil
	if v == lua.LFalse {
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf(`http must be a table such as { listen = "127.0.0.1:9001" }, got %s`, describe(v))
	}
	h := &HTTPConfig{}
	d.HTTP = h
	el := c.el
	for _, k := range tableKeys(t) {
		v := t.RawGet(k)
		var err error
		switch k.String() {
		case "listen":
			h.Listen, err = c.field("http.listen", v)
		case "username":
			h.Username, err = c.field("http.username", v)
		case "password":
			h.Password, err = c.field("http.password", v)
		case "allow_no_auth":
			if v, err = expandValue("http.allow_no_auth", v, c.expandFunc()); err == nil {
				h.AllowNoAuth, err = decodeBool("http.allow_no_auth", v)
			}
		default:
			err = errors.New("http: " + unknownOption(k.String(), httpOptionNames))
		}
		if err != nil {
			el.at("http."+k.String(), err)
		}
	}
	if h.Listen == "" {
		el.at("http", errors.New(`http.listen is required (such as "127.0.0.1:9001")`))
	}
	if !h.AllowNoAuth && (h.Username == "" || h.Password == "") {
		el.at("http", errors.New("http needs a username and a password (or allow_no_auth = true)"))
	}
	return nil
}

// decodeMemoryLimit reads lua_memory_limit: a size, or 0 / false for no
// budget (stored as -1, as Options.MemoryLimit takes it).
func decodeMemoryLimit(v lua.LValue) (int64, error) {
	if v == lua.LFalse {
		return -1, nil
	}
	n, err := decodeSize("lua_memory_limit", v)
	if n == 0 && err == nil {
		return -1, nil
	}
	return n, err
}
