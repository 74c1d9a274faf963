package vm

import (
	"bufio"
	"io"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// compileFile parses and compiles a Lua file; messages name it chunkname.
func compileFile(L *lua.LState, path, chunkname string) (*lua.LFunction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return compileReader(L, bufio.NewReader(f), chunkname)
}

// compileString compiles a chunk held in memory.
func compileString(L *lua.LState, src, chunkname string) (*lua.LFunction, error) {
	return compileReader(L, strings.NewReader(src), chunkname)
}

func compileReader(L *lua.LState, r io.Reader, chunkname string) (*lua.LFunction, error) {
	chunk, err := parse.Parse(r, chunkname)
	if err != nil {
		return nil, err
	}
	proto, err := lua.Compile(chunk, chunkname)
	if err != nil {
		return nil, err
	}
	return L.NewFunctionFromProto(proto), nil
}
