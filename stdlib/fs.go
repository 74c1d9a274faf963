package stdlib

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"
)

// maxRead bounds fs.read so that a script cannot exhaust the daemon's
// memory with one call.
const maxRead = 16 << 20

// loadFS returns the loader of the fs module, resolving relative paths
// against dir: exists, read, glob, join, dirname, basename.
func loadFS(dir string) lua.LGFunction {
	abs := func(p string) string {
		if filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	return func(L *lua.LState) int {
		L.Push(newModule(L, map[string]lua.LGFunction{
			"exists": func(L *lua.LState) int {
				_, err := os.Stat(abs(L.CheckString(1)))
				L.Push(lua.LBool(err == nil))
				return 1
			},
			"read": func(L *lua.LState) int {
				b, err := readLimited(abs(L.CheckString(1)), maxRead)
				if err != nil {
					L.Push(lua.LNil)
					L.Push(lua.LString(err.Error()))
					return 2
				}
				L.Push(lua.LString(b))
				return 1
			},
			"glob": func(L *lua.LState) int {
				m, err := filepath.Glob(abs(L.CheckString(1)))
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

// readLimited reads a whole file, failing when it is larger than limit.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: file larger than %d bytes", path, limit)
	}
	return b, nil
}
