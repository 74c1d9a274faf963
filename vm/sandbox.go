package vm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/stdlib"
)

// Limits that keep one script from taking the daemon down.
const (
	callStackSize   = 200       // Lua call frames: deep recursion fails with "stack overflow"
	registrySize    = 1024 * 4  // initial value-stack slots
	registryMaxSize = 1024 * 80 // value-stack slots at most (unpack of huge tables fails cleanly)
	maxStringRep    = 64 << 20  // bytes string.rep may build
)

// moduleName is what require accepts for a file of the config folder:
// "x" is x.lua, "lib.x" is lib/x.lua.
var moduleName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`) })

// newState builds the sandboxed Lua state: base, package, table, string,
// math, coroutine and a reduced os; no io or debug.
func (v *VM) newState() *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   callStackSize,
		RegistrySize:    registrySize,
		RegistryMaxSize: registryMaxSize,
		// A fixed call stack: its overflow is a Lua error with file:line
		// that leaves room to run the message handler (the growing one
		// panics instead, losing the position).
		MinimizeStackMemory: false,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	// os.exit would kill the daemon; the rest change the process or the
	// filesystem. What remains: time, clock, date, difftime, getenv.
	// Each removed name stays as a function that says so, rather than a
	// nil that fails with "attempt to call a non-function object".
	if os, ok := g.RawGetString("os").(*lua.LTable); ok {
		for _, f := range []string{"exit", "execute", "setenv", "remove", "rename", "tmpname", "setlocale"} {
			os.RawSetString(f, unavailable(L, "os."+f, sandboxHints["os."+f]))
		}
	}
	for _, name := range sandboxRemoved {
		if name == "io" || name == "debug" {
			g.RawSetString(name, unavailableLib(L, name, sandboxHints[name]))
		} else {
			g.RawSetString(name, unavailable(L, name, ""))
		}
	}
	g.RawSetString("print", L.NewFunction(v.luaPrint))
	g.RawSetString("dofile", L.NewFunction(v.luaDofile))
	g.RawSetString("loadfile", L.NewFunction(v.luaLoadfile))
	if str, ok := g.RawGetString("string").(*lua.LTable); ok {
		rep := str.RawGetString("rep")
		str.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
			s, n, sep := L.CheckString(1), L.CheckInt(2), L.OptString(3, "")
			if n > 0 && (int64(len(s))+int64(len(sep)))*int64(n) > maxStringRep {
				L.RaiseError("string.rep: result larger than %d bytes", maxStringRep)
			}
			L.Push(rep)
			L.Push(lua.LString(s))
			L.Push(lua.LNumber(n))
			L.Push(lua.LString(sep))
			L.Call(3, 1)
			return 1
		}))
	}
	v.onError = L.NewFunction(errorHandler)
	v.restrictRequire(L)
	stdlib.Preload(L, stdlib.Options{Logger: v.log, Control: v.opts.Control, Dir: v.dir})
	return L
}

// sandboxRemoved are the globals the sandbox leaves out; each is a stand-in
// that says so when used, and none is offered for completion.
var sandboxRemoved = []string{"io", "debug", "collectgarbage", "_printregs", "module"}

// sandboxHints say what to use instead of a name the sandbox leaves out.
var sandboxHints = map[string]string{
	"os.execute": "declare a program to run a command",
	"io":         "the fs module reads files; print and the log module write",
}

// sandboxError words the error of a name the sandbox leaves out.
func sandboxError(name, hint string) string {
	msg := name + " is not available in tend's sandbox"
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

// unavailable is a function that raises sandboxError for name.
func unavailable(L *lua.LState, name, hint string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s", sandboxError(name, hint))
		return 0
	})
}

// unavailableLib is a stand-in for a library the sandbox leaves out: any
// field of it raises sandboxError naming the field (io.open, debug.getinfo).
func unavailableLib(L *lua.LState, lib, hint string) *lua.LTable {
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s", sandboxError(lib+"."+L.CheckString(2), hint))
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s", sandboxError(lib, hint))
		return 0
	}))
	L.SetMetatable(t, mt)
	return t
}

// restrictRequire makes require resolve only preloaded (stdlib) modules
// and files of the config folder. require reads the registry's _LOADERS,
// not package.loaders, so that is the table to replace.
func (v *VM) restrictRequire(L *lua.LState) {
	reg := L.Get(lua.RegistryIndex)
	orig := L.GetField(reg, "_LOADERS").(*lua.LTable)
	loaders := L.CreateTable(2, 0)
	loaders.Append(orig.RawGetInt(1)) // package.preload
	loaders.Append(L.NewFunction(v.requireFromDir))
	L.SetField(reg, "_LOADERS", loaders)
	pkg := L.GetGlobal("package").(*lua.LTable)
	visible := L.CreateTable(2, 0)
	visible.Append(loaders.RawGetInt(1))
	visible.Append(loaders.RawGetInt(2))
	pkg.RawSetString("loaders", visible)
	pkg.RawSetString("path", lua.LString(""))
	pkg.RawSetString("cpath", lua.LString(""))
	pkg.RawSetString("loadlib", unavailable(L, "package.loadlib", ""))
	pkg.RawSetString("seeall", lua.LNil)
}

// requireFromDir is the loader for require "x": <config dir>/x.lua.
func (v *VM) requireFromDir(L *lua.LState) int {
	name := L.CheckString(1)
	if !moduleName().MatchString(name) {
		L.Push(lua.LString(fmt.Sprintf("\n\tno stdlib module '%s' and not a valid file module name", name)))
		return 1
	}
	rel := strings.ReplaceAll(name, ".", "/") + ".lua"
	path := filepath.Join(v.dir, rel)
	if _, err := os.Stat(path); err != nil {
		L.Push(lua.LString(fmt.Sprintf("\n\tno stdlib module '%s'\n\tno file '%s'", name, path)))
		return 1
	}
	fn, err := v.compileFile(L, path, v.chunkName(path))
	if err != nil {
		L.RaiseError("%s", luaMessage(err))
	}
	L.Push(fn)
	return 1
}

// chunkName names a file for messages: relative to the working directory
// the config was given in when it lies below the config's folder.
func (v *VM) chunkName(abs string) string {
	rel, err := filepath.Rel(v.dir, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return abs
	}
	return filepath.Join(filepath.Dir(v.path), rel)
}

// inConfigDir resolves p (relative to the config folder) and checks that
// it stays inside that folder, symbolic links included.
func (v *VM) inConfigDir(p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.dir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(v.dir)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the configuration folder %s", p, v.dir)
	}
	return p, nil
}

// luaDofile is dofile limited to the configuration's folder.
func (v *VM) luaDofile(L *lua.LState) int {
	path, err := v.inConfigDir(L.CheckString(1))
	if err != nil {
		L.RaiseError("dofile: %v", err)
	}
	fn, err := v.compileFile(L, path, v.chunkName(path))
	if err != nil {
		L.RaiseError("dofile: %s", luaMessage(err))
	}
	top := L.GetTop()
	L.Push(fn)
	L.Call(0, lua.MultRet)
	return L.GetTop() - top
}

// luaLoadfile is loadfile limited to the configuration's folder.
func (v *VM) luaLoadfile(L *lua.LState) int {
	path, err := v.inConfigDir(L.CheckString(1))
	if err == nil {
		var fn *lua.LFunction
		if fn, err = v.compileFile(L, path, v.chunkName(path)); err == nil {
			L.Push(fn)
			return 1
		}
		err = fmt.Errorf("%s", luaMessage(err))
	}
	L.Push(lua.LNil)
	L.Push(lua.LString(err.Error()))
	return 2
}

// luaPrint sends print's output to the Eval being run, or to the daemon
// log with the caller's file:line.
func (v *VM) luaPrint(L *lua.LState) int {
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
	}
	msg := strings.Join(parts, "\t")
	if v.printTo != nil {
		v.printTo.WriteString(msg + "\n")
		return 0
	}
	v.log.Log(context.Background(), slog.LevelInfo, stdlib.Where(L)+" "+msg)
	return 0
}
