package stdlib

import (
	_ "embed"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

//go:embed lua/policy.lua
var policySource string

// loadPolicy is the loader of the policy module, written in Lua.
func loadPolicy(L *lua.LState) int {
	fn, err := L.Load(strings.NewReader(policySource), "policy.lua")
	if err != nil {
		L.RaiseError("load policy.lua: %v", err)
	}
	L.Push(fn)
	L.Call(0, 1)
	return 1
}
