package vm

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/tend-sh/tend/stdlib"
)

// maxSource bounds a Lua file tend reads.
const maxSource = 16 << 20

// compileFile parses and compiles a Lua file; messages name it chunkname.
// Reading it honours L's context (a FIFO cannot hold the VM). During a
// load the source is kept, to locate errors at their option's line.
func (v *VM) compileFile(L *lua.LState, path, chunkname string) (*lua.LFunction, error) {
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	proto, src, err := compileProto(ctx, path, chunkname)
	if err != nil {
		return nil, err
	}
	v.keepSource(chunkname, src)
	return L.NewFunctionFromProto(proto), nil
}

// keepSource remembers the source of a chunk run by the load in progress.
func (v *VM) keepSource(chunkname string, src []byte) {
	if v.sources != nil {
		v.sources[chunkname] = src
	}
}

// compileProto reads, parses and compiles a Lua file without touching a
// Lua state, so it may run on any goroutine. The read stops when ctx ends.
// It returns the source read.
func compileProto(ctx context.Context, path, chunkname string) (*lua.FunctionProto, []byte, error) {
	src, err := stdlib.ReadFile(ctx, path, maxSource)
	if err != nil {
		return nil, nil, err
	}
	proto, err := compileSource(src, chunkname)
	return proto, src, err
}

// compileSource parses and compiles src; syntax errors carry file:line.
func compileSource(src []byte, chunkname string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), chunkname)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			return nil, newSyntaxError(pe, src)
		}
		return nil, err
	}
	return lua.Compile(splitChunk(chunk, src), chunkname)
}

// compileProtos compiles files concurrently, at most one per CPU the
// runtime uses: a conf.d of many files spends most of its load time in
// the parser and compiler, which share nothing. Results are in the order
// of paths, with the sources read.
func compileProtos(ctx context.Context, paths, chunknames []string) ([]*lua.FunctionProto, [][]byte, []error) {
	protos := make([]*lua.FunctionProto, len(paths))
	srcs := make([][]byte, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			protos[i], srcs[i], errs[i] = compileProto(ctx, paths[i], chunknames[i])
		})
	}
	wg.Wait()
	return protos, srcs, errs
}

// compileString compiles a chunk held in memory.
func compileString(L *lua.LState, src, chunkname string) (*lua.LFunction, error) {
	proto, err := compileSource([]byte(src), chunkname)
	if err != nil {
		return nil, err
	}
	return L.NewFunctionFromProto(proto), nil
}
