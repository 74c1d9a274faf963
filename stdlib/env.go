package stdlib

import (
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// loadEnv is the loader of the env module: get(name [, default]) and all().
func loadEnv(L *lua.LState) int {
	L.Push(newModule(L, map[string]lua.LGFunction{
		"get": func(L *lua.LState) int {
			name := L.CheckString(1)
			if v, ok := os.LookupEnv(name); ok {
				L.Push(lua.LString(v))
			} else {
				L.Push(L.Get(2))
			}
			return 1
		},
		"all": func(L *lua.LState) int {
			t := L.NewTable()
			for _, kv := range os.Environ() {
				if k, v, ok := strings.Cut(kv, "="); ok {
					t.RawSetString(k, lua.LString(v))
				}
			}
			L.Push(t)
			return 1
		},
	}))
	return 1
}
