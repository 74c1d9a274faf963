package stdlib

import (
	"context"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"
)

// maxRead bounds fs.read so that a script cannot exhaust the daemon's
// memory with one call.
const maxRead = 16 << 20

// loadFS returns the loader of the fs module, resolving relative paths
// against dir: exists, read, glob, join, dirname, basename. exists, read
// and glob touch the file system, so they run under g: a hung mount or a
// silent FIFO cannot hold the caller past its deadline.
func loadFS(g *guard, dir string) lua.LGFunction {
	abs := func(p string) string {
		if filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	return func(L *lua.LState) int {
		L.Push(newModule(L, map[string]lua.LGFunction{
			"exists": func(L *lua.LState) int {
				p := abs(L.CheckString(1))
				ok, err := do(g, L, "fs.exists", func(context.Context) (bool, error) {
					_, err := os.Stat(p)
					return err == nil, nil
				})
				if err != nil {
					raise(L, "fs.exists", err)
				}
				L.Push(lua.LBool(ok))
				return 1
			},
			"read": func(L *lua.LState) int {
				p := abs(L.CheckString(1))
				// A read error is a result (nil, message); only an
				// abandoned call (the deadline passed) raises.
				type read struct {
					b   []byte
					err error
				}
				r, err := do(g, L, "fs.read", func(ctx context.Context) (read, error) {
					b, err := ReadFile(ctx, p, maxRead)
					return read{b, err}, nil
				})
				if err != nil {
					raise(L, "fs.read", err)
				}
				if r.err != nil {
					L.Push(lua.LNil)
					L.Push(lua.LString(r.err.Error()))
					return 2
				}
				L.Push(lua.LString(r.b))
				return 1
			},
			"glob": func(L *lua.LState) int {
				pattern := abs(L.CheckString(1))
				m, err := do(g, L, "fs.glob", func(context.Context) ([]string, error) {
					return filepath.Glob(pattern)
				})
				if err != nil {
					L.RaiseError("fs.glob: %v", err)
				}
				L.Push(stringList(L, m))
				return 1
			},
			"join": func(L *lua.LState) int {
				parts := make([]string, L.GetTop())
				for i := range parts {
					parts[i] = L.CheckString(i + 1)
				}
				L.Push(lua.LString(filepath.Join(parts...)))
				return 1
			},
			"dirname": func(L *lua.LState) int {
				L.Push(lua.LString(filepath.Dir(L.CheckString(1))))
				return 1
			},
			"basename": func(L *lua.LState) int {
				L.Push(lua.LString(filepath.Base(L.CheckString(1))))
				return 1
			},
		}))
		return 1
	}
}
