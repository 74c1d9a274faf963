package stdlib

import (
	"fmt"

	"github.com/dustin/go-humanize"
	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// ParseBytes parses a size: supervisord's form first (an integer, or an
// integer followed by KB, MB or GB, 1024-based: "50MB" is 52428800), then
// go-humanize's ("1.5GiB", "10 KiB", and SI units such as "1.5GB" or "50M",
// which are 1000-based).
func ParseBytes(s string) (int64, error) {
	if n, err := supervisor.ParseSize(s); err == nil {
		return n, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	return int64(n), nil
}

// loadBytes is the loader of the bytes module: parse(s) and format(n [, "si"]).
func loadBytes(L *lua.LState) int {
	L.Push(newModule(L, map[string]lua.LGFunction{
		"parse": func(L *lua.LState) int {
			if n, ok := L.Get(1).(lua.LNumber); ok {
				L.Push(n)
				return 1
			}
			n, err := ParseBytes(L.CheckString(1))
			if err != nil {
				L.RaiseError("bytes.parse: %v", err)
			}
			L.Push(lua.LNumber(n))
			return 1
		},
		"format": func(L *lua.LState) int {
			n := L.CheckNumber(1)
			if n < 0 {
				L.ArgError(1, "size must be >= 0")
			}
			if L.OptString(2, "") == "si" {
				L.Push(lua.LString(humanize.Bytes(uint64(n))))
			} else {
				L.Push(lua.LString(humanize.IBytes(uint64(n))))
			}
			return 1
		},
	}))
	return 1
}
