package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// programDecl is one program{} declaration, kept raw: options may be
// functions of the instance, so they are decoded per instance later.
type programDecl struct {
	name string
	pos  string // "file:line" of the declaration
	here string // absolute folder of the declaring file, for %(here)s
	opts *lua.LTable
	// kind is "program", "eventlistener" or "fcgi_program".
	kind string
}

// what names the declaration in messages: program "web".
func (d *programDecl) what() string { return fmt.Sprintf("%s %q", d.kind, d.name) }

// groupDecl is one group{} declaration.
type groupDecl struct {
	name string
	pos  string
	here string
	opts *lua.LTable
}

// daemonDecl is the daemon{} declaration.
type daemonDecl struct {
	pos  string
	here string
	opts *lua.LTable
}

// loadState collects the declarations a config makes while it runs.
type loadState struct {
	programs  []*programDecl
	byName    map[string]*programDecl
	groups    []*groupDecl
	groupName map[string]*groupDecl
	daemon    *daemonDecl
	pending   map[string]string // program "x" without its option table: name -> "kind\x00pos"
	running   []string          // files being run, for include cycles
	included  []string          // files include ran, as named in messages
	errs      []error
	warns     []error // *ConfigError: mistakes that do not stop the load
}

func newLoadState() *loadState {
	return &loadState{
		byName:    map[string]*programDecl{},
		groupName: map[string]*groupDecl{},
		pending:   map[string]string{},
	}
}

func (s *loadState) warnf(pos, what, format string, args ...any) {
	s.warns = append(s.warns, &ConfigError{Pos: pos, What: what, Msg: fmt.Sprintf(format, args...)})
}

func (s *loadState) errorf(pos, what, format string, args ...any) {
	s.errs = append(s.errs, &ConfigError{Pos: pos, What: what, Msg: fmt.Sprintf(format, args...)})
}

// caller returns the "file:line" of the Lua code calling the current Go
// function, and that file's chunk name.
// When called through a Go function (pcall(program, ...)), that is the
// nearest Lua frame above.
func caller(L *lua.LState) (pos, source string) {
	for level := 1; level < 8; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.CurrentLine > 0 {
			return fmt.Sprintf("%s:%d", dbg.Source, dbg.CurrentLine), dbg.Source
		}
	}
	return "?", ""
}

// hereOf returns the absolute folder of a chunk, for %(here)s and include.
func hereOf(source string) string {
	abs, err := filepath.Abs(filepath.Dir(source))
	if err != nil {
		return filepath.Dir(source)
	}
	return abs
}

// installDeclarations defines the global functions of the config language.
func (v *VM) installDeclarations(L *lua.LState, s *loadState) {
	L.SetGlobal("program", L.NewFunction(func(L *lua.LState) int { return v.declare(L, s, "program") }))
	L.SetGlobal("eventlistener", L.NewFunction(func(L *lua.LState) int { return v.declare(L, s, "eventlistener") }))
	L.SetGlobal("fcgi_program", L.NewFunction(func(L *lua.LState) int { return v.declare(L, s, "fcgi_program") }))
	L.SetGlobal("group", L.NewFunction(func(L *lua.LState) int { return v.declare(L, s, "group") }))
	L.SetGlobal("daemon", L.NewFunction(func(L *lua.LState) int {
		pos, source := caller(L)
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			s.errorf(pos, "daemon", "expected a table of options, got %s", describe(L.Get(1)))
			return 0
		}
		if s.daemon != nil {
			s.errorf(pos, "daemon", "already declared at %s", s.daemon.pos)
			return 0
		}
		s.daemon = &daemonDecl{pos: pos, here: hereOf(source), opts: t}
		return 0
	}))
	L.SetGlobal("include", L.NewFunction(func(L *lua.LState) int { return v.include(L, s) }))
}

// declare implements program, eventlistener and group in both forms: kind "name" {opts}
// and kind {name = "name", ...}.
func (v *VM) declare(L *lua.LState, s *loadState, kind string) int {
	pos, source := caller(L)
	switch a := L.Get(1).(type) {
	case lua.LString:
		name := string(a)
		if kind != "group" {
			s.pending[name] = kind + "\x00" + pos
		}
		L.Push(L.NewFunction(func(L *lua.LState) int {
			delete(s.pending, name)
			t, ok := L.Get(1).(*lua.LTable)
			if !ok {
				s.errorf(pos, fmt.Sprintf("%s %q", kind, name), "expected a table of options, got %s", describe(L.Get(1)))
				return 0
			}
			v.record(s, kind, name, pos, source, t)
			return 0
		}))
		return 1
	case *lua.LTable:
		n, ok := a.RawGetString("name").(lua.LString)
		if !ok {
			s.errorf(pos, kind, "name must be a string, got %s", describe(a.RawGetString("name")))
			return 0
		}
		v.record(s, kind, string(n), pos, source, a)
		return 0
	default:
		s.errorf(pos, kind, `expected a name or a table of options (%s "name" { ... }), got %s`, kind, describe(L.Get(1)))
		return 0
	}
}

// record validates the name of a declaration and stores it.
func (v *VM) record(s *loadState, kind, name, pos, source string, t *lua.LTable) {
	what := fmt.Sprintf("%s %q", kind, name)
	if name == "" || strings.ContainsAny(name, ": \t\n") {
		s.errorf(pos, what, "a name must be non-empty and may not contain ':' or spaces")
		return
	}
	if kind == "group" {
		if prev, ok := s.groupName[name]; ok {
			s.errorf(pos, what, "already declared at %s", prev.pos)
			return
		}
		g := &groupDecl{name: name, pos: pos, here: hereOf(source), opts: t}
		s.groups = append(s.groups, g)
		s.groupName[name] = g
		return
	}
	if prev, ok := s.byName[name]; ok {
		s.errorf(pos, what, "already declared at %s", prev.pos)
		return
	}
	d := &programDecl{name: name, pos: pos, here: hereOf(source), opts: t, kind: kind}
	s.programs = append(s.programs, d)
	s.byName[name] = d
}

// include runs every file matching a glob relative to the including file,
// in sorted order, in the same global environment.
func (v *VM) include(L *lua.LState, s *loadState) int {
	pos, source := caller(L)
	pattern := L.CheckString(1)
	full := pattern
	if !filepath.IsAbs(full) {
		full = filepath.Join(filepath.Dir(source), pattern)
	}
	matches, err := filepath.Glob(full)
	if err != nil {
		s.errorf(pos, "include", "bad pattern %q: %v", pattern, err)
		return 0
	}
	if len(matches) == 0 && !strings.ContainsAny(pattern, "*?[") {
		s.errorf(pos, "include", "%s: no such file", full)
		return 0
	}
	if len(matches) == 0 {
		// supervisord: No file matches via include "conf.d/*.conf".
		s.warnf(pos, "include", "no file matches %q", full)
		return 0
	}
	var files, names []string
	for _, m := range matches {
		abs, err := filepath.Abs(m)
		if err != nil {
			s.errorf(pos, "include", "%s: %v", m, err)
			continue
		}
		if st, err := os.Stat(abs); err != nil || st.IsDir() {
			continue
		}
		for _, r := range s.running {
			if r == abs {
				L.Error(lua.LString(fmt.Sprintf("%s: include: %s includes itself", pos, m)), 0)
			}
		}
		files, names = append(files, abs), append(names, m)
	}
	// Every match is compiled up front (concurrently); they still run one
	// after another, and an error is raised when its file's turn comes.
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	protos, srcs, errs := compileProtos(ctx, files, names)
	for i, abs := range files {
		if errs[i] != nil {
			L.Error(lua.LString(luaMessage(errs[i])), 0)
		}
		v.keepSource(names[i], srcs[i])
		s.included = append(s.included, names[i])
		s.running = append(s.running, abs)
		L.Push(L.NewFunctionFromProto(protos[i]))
		L.Call(0, 0)
		s.running = s.running[:len(s.running)-1]
	}
	return 0
}
