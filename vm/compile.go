package vm

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// compileFile parses and compiles a Lua file; messages name it chunkname.
func compileFile(L *lua.LState, path, chunkname string) (*lua.LFunction, error) {
	proto, err := compileProto(path, chunkname)
	if err != nil {
		return nil, err
	}
	return L.NewFunctionFromProto(proto), nil
}

// compileProto parses and compiles a Lua file without touching a Lua
// state, so it may run on any goroutine.
func compileProto(path, chunkname string) (*lua.FunctionProto, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	chunk, err := parse.Parse(bufio.NewReader(f), chunkname)
	if err != nil {
		return nil, err
	}
	return lua.Compile(chunk, chunkname)
}

// compileProtos compiles files concurrently, at most one per CPU the
// runtime uses: a conf.d of many files spends most of its load time in
// the parser and compiler, which share nothing. Results are in the order
// of paths.
func compileProtos(paths, chunknames []string) ([]*lua.FunctionProto, []error) {
	protos := make([]*lua.FunctionProto, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			protos[i], errs[i] = compileProto(paths[i], chunknames[i])
		})
	}
	wg.Wait()
	return protos, errs
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
