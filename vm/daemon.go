package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// daemonOptions are the options daemon{} accepts.
var daemonOptions = map[string]bool{
	"logfile": true, "logfile_maxbytes": true, "logfile_backups": true, "loglevel": true,
	"pidfile": true, "childlogdir": true, "directory": true, "umask": true, "identifier": true,
	"nocleanup": true, "minfds": true, "environment": true, "socket": true, "http": true,
	"hook_timeout": true, "subreaper": true, "load_timeout": true, "lua_memory_limit": true,
}

var (
	daemonOptionNames = sortedKeys(daemonOptions)
	socketOptionNames = []string{"mode", "owner", "path"}
	httpOptionNames   = []string{"allow_no_auth", "listen", "password", "username"}
)

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
	timeout := opts.HookTimeout
	if timeout <= 0 {
		timeout = supervisor.DefaultHookTimeout
	}

	return Daemon{
		Logfile: filepath.Join(cwd, "tend.log"), LogfileMaxBytes: supervisor.DefaultLogMaxBytes,
		LogfileBackups: supervisor.DefaultLogBackups, LogLevel: "info", Umask: 0o22,
		Identifier: "supervisor", Minfds: 1024, Socket: SocketConfig{Path: sock, Mode: 0o700},
		HookTimeout: timeout, Subreaper: true, LoadTimeout: DefaultLoadTimeout, LuaMemoryLimit: DefaultMemoryLimit,
	}
}

// decodeDaemon applies a daemon{} declaration to d.
func decodeDaemon(dd *daemonDecl, d *Daemon) []error {
	el := &errorList{pos: dd.pos, what: "daemon"}
	vars := map[string]any{"here": dd.here}
	for _, kv := range os.Environ() {
		if k, val, ok := strings.Cut(kv, "="); ok {
			vars["ENV_"+k] = val
		}
	}
	// expand applies %(here)s and %(ENV_X)s, which supervisord expands in
	// its own sections' paths and environment too.
	expand := func(name, s string) string {
		out, err := supervisor.Expand(s, vars)
		if err != nil {
			el.add(fmt.Errorf("%s: %v", name, err))
			return s
		}
		return out
	}
	path := func(name string, v lua.LValue) string {
		s, err := decodeString(name, v)
		if err != nil {
			el.add(err)
			return s
		}
		return expand(name, s)
	}
	check := func(err error) {
		if err != nil {
			el.add(err)
		}
	}
	var err error
	for _, k := range tableKeys(dd.opts) {
		v := dd.opts.RawGet(k)
		ks, ok := k.(lua.LString)
		if !ok {
			el.add(fmt.Errorf("unexpected value at index %s: options are written name = value", k.String()))
			continue
		}
		name := string(ks)
		switch name {
		case "logfile":
			d.Logfile = path(name, v)
		case "pidfile":
			d.Pidfile = path(name, v)
		case "childlogdir":
			d.ChildLogDir = path(name, v)
		case "directory":
			d.Directory = path(name, v)
		case "logfile_maxbytes":
			d.LogfileMaxBytes, err = decodeSize(name, v)
			check(err)
		case "logfile_backups":
			d.LogfileBackups, err = decodeInt(name, v, 0)
			check(err)
		case "loglevel":
			var s string
			if s, err = decodeString(name, v); err == nil {
				if _, err = logfile.ParseLevel(s); err != nil {
					err = fmt.Errorf("loglevel must be one of critical, error, warn, info, debug, trace, blather, got %s", describe(v))
				}
			}
			check(err)
			d.LogLevel = strings.ToLower(s)
		case "umask":
			d.Umask, err = decodeUmask(name, v)
			check(err)
		case "identifier":
			d.Identifier, err = decodeString(name, v)
			check(err)
		case "nocleanup":
			d.Nocleanup, err = decodeBool(name, v)
			check(err)
		case "subreaper":
			d.Subreaper, err = decodeBool(name, v)
			check(err)
		case "minfds":
			d.Minfds, err = decodeInt(name, v, 1)
			check(err)
		case "hook_timeout":
			d.HookTimeout, err = decodeSeconds(name, v, true)
			check(err)
		case "load_timeout":
			d.LoadTimeout, err = decodeSeconds(name, v, true)
			check(err)
		case "lua_memory_limit":
			d.LuaMemoryLimit, err = decodeMemoryLimit(v)
			check(err)
		case "environment":
			d.Environment, err = decodeExpandedEnvironment(v, func(s string) (string, error) { return supervisor.Expand(s, vars) })
			check(err)
		case "socket":
			decodeSocket(v, &d.Socket, el, expand)
		case "http":
			d.HTTP = decodeHTTP(v, el)
		default:
			el.add(errors.New(unknownOption(name, daemonOptionNames)))
		}
	}
	return el.errs
}

func decodeSocket(v lua.LValue, sc *SocketConfig, el *errorList, expand func(name, s string) string) {
	t, ok := v.(*lua.LTable)
	if !ok {
		el.add(fmt.Errorf(`socket must be a table such as { path = "/run/tend.sock" }, got %s`, describe(v)))
		return
	}
	for _, k := range tableKeys(t) {
		v := t.RawGet(k)
		var err error
		switch k.String() {
		case "path":
			if sc.Path, err = decodeString("socket.path", v); err == nil {
				sc.Path = expand("socket.path", sc.Path)
			}
		case "mode":
			sc.Mode, err = decodeMode("socket.mode", v)
		case "owner":
			sc.Owner, err = decodeString("socket.owner", v)
		default:
			err = errors.New("socket: " + unknownOption(k.String(), socketOptionNames))
		}
		if err != nil {
			el.add(err)
		}
	}
}

func decodeHTTP(v lua.LValue, el *errorList) *HTTPConfig {
	if v == lua.LFalse {
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		el.add(fmt.Errorf(`http must be a table such as { listen = "127.0.0.1:9001" }, got %s`, describe(v)))
		return nil
	}
	h := &HTTPConfig{}
	for _, k := range tableKeys(t) {
		v := t.RawGet(k)
		var err error
		switch k.String() {
		case "listen":
			h.Listen, err = decodeString("http.listen", v)
		case "username":
			h.Username, err = decodeString("http.username", v)
		case "password":
			h.Password, err = decodeString("http.password", v)
		case "allow_no_auth":
			h.AllowNoAuth, err = decodeBool("http.allow_no_auth", v)
		default:
			err = errors.New("http: " + unknownOption(k.String(), httpOptionNames))
		}
		if err != nil {
			el.add(err)
		}
	}
	if h.Listen == "" {
		el.add(errors.New(`http.listen is required (such as "127.0.0.1:9001")`))
	}
	if !h.AllowNoAuth && (h.Username == "" || h.Password == "") {
		el.add(errors.New("http needs a username and a password (or allow_no_auth = true)"))
	}
	return h
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
