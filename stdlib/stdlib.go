package stdlib

import (
	"log/slog"
	"slices"

	lua "github.com/yuin/gopher-lua"
)

// Options are what the modules need from their host.
type Options struct {
	// Logger receives log.* calls; nil discards them.
	Logger *slog.Logger
	// Control is the running daemon for sv; nil makes sv functions raise
	// "not attached to a running daemon".
	Control Control
	// Dir is the configuration's folder: relative paths given to fs
	// functions are resolved against it. "" means the working directory.
	Dir string

	// testBlock, set only by this package's tests, runs at the start of
	// every guarded call to simulate one stuck in the kernel.
	testBlock func(name string)
}

// loaders maps each module name to its loader.
func loaders(o Options) map[string]lua.LGFunction {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := newGuard(o.testBlock)
	return map[string]lua.LGFunction{
		"sys":    loadSys(g, defaultSysRoot),
		"env":    loadEnv,
		"shell":  loadShell,
		"fs":     loadFS(g, o.Dir),
		"bytes":  loadBytes,
		"log":    loadLog(o.Logger),
		"json":   loadJSON,
		"policy": loadPolicy,
		"sv":     loadSV(g, o.Control),
	}
}

// Preload registers every module with L so that require "name" finds it.
func Preload(L *lua.LState, o Options) {
	for name, fn := range loaders(o) {
		L.PreloadModule(name, fn)
	}
}

// Modules returns the names of the modules Preload registers, sorted.
func Modules() []string {
	var names []string
	for name := range loaders(Options{}) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// newModule builds a module table from functions.
func newModule(L *lua.LState, funcs map[string]lua.LGFunction) *lua.LTable {
	return L.SetFuncs(L.NewTable(), funcs)
}

// stringList returns a Lua array of the given strings.
func stringList(L *lua.LState, items []string) *lua.LTable {
	t := L.CreateTable(len(items), 0)
	for _, s := range items {
		t.Append(lua.LString(s))
	}
	return t
}
