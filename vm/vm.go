package vm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// eventQueue is how many engine events Observe buffers for the owner
// goroutine before it drops them.
const eventQueue = 1024

// errClosed is returned by calls made after Close.
var errClosed = errors.New("lua vm is closed")

// VM is one Lua state and the goroutine that owns it. Its methods are safe
// for concurrent use; the Lua work they do is queued to the owner.
type VM struct {
	opts        Options
	log         *slog.Logger
	hookTimeout time.Duration // the config's hook_timeout, or the default

	jobs      chan func(*lua.LState)
	events    chan supervisor.Event
	done      chan struct{}   // closed by Close
	life      context.Context // cancelled by Close: ends any running call
	endLife   context.CancelFunc
	exited    chan struct{} // closed when the owner goroutine has returned
	closeOnce sync.Once

	// Owned by the owner goroutine.
	L        *lua.LState
	path     string           // the config file as given to Load
	dir      string           // its folder, absolute: the sandbox's root
	printTo  *strings.Builder // where print goes during Eval; nil = the log
	state    *loadState       // declarations, kept for Resolve
	resolver *resolver        // the resolver of the last load, for Resolve

	hookCounts hookCounters

	mu        sync.Mutex
	observers map[string]*hooks // namespec -> hooks with on_start/on_state
	dropped   int
}

// newVM creates the sandboxed state and starts its owner goroutine.
func newVM(path, dir string, opts Options) *VM {
	v := &VM{
		opts:        opts,
		log:         opts.Logger,
		hookTimeout: opts.HookTimeout,
		jobs:        make(chan func(*lua.LState)),
		events:      make(chan supervisor.Event, eventQueue),
		done:        make(chan struct{}),
		exited:      make(chan struct{}),
		path:        path,
		dir:         dir,
		observers:   map[string]*hooks{},
	}
	v.life, v.endLife = context.WithCancel(context.Background())
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.hookTimeout <= 0 {
		v.hookTimeout = supervisor.DefaultHookTimeout
	}
	v.L = v.newState()
	go v.loop()
	return v
}

// loop is the owner goroutine: it runs queued calls and observed events
// one at a time until Close.
func (v *VM) loop() {
	defer close(v.exited)
	for {
		select {
		case <-v.done:
			v.L.Close()
			return
		default:
		}
		select {
		case job := <-v.jobs:
			job(v.L)
		case ev := <-v.events:
			v.observe(ev)
		case <-v.done:
		}
	}
}

// Close stops the owner goroutine and releases the Lua state. Calls made
// afterwards fail; a hook policy of a closed VM makes the engine apply
// supervisord's rules.
func (v *VM) Close() {
	v.closeOnce.Do(func() {
		v.endLife()
		close(v.done)
	})
	<-v.exited
}

// run executes fn on the owner goroutine with L's context set to ctx, so
// the Lua code it runs is cancelled when ctx ends. It returns fn's error,
// or ctx's error if ctx ends first (fn is then cancelled, not waited for).
func (v *VM) run(ctx context.Context, fn func(L *lua.LState) error) error {
	res := make(chan error, 1)
	job := func(L *lua.LState) {
		if err := ctx.Err(); err != nil {
			res <- err
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(v.life, cancel)()
		L.SetContext(ctx)
		defer L.RemoveContext()
		res <- protect(L, fn)
	}
	select {
	case v.jobs <- job:
	case <-ctx.Done():
		return ctx.Err()
	case <-v.done:
		return errClosed
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-v.exited:
		return errClosed
	}
}

// protect runs fn, turning a panic into an error and leaving the Lua
// stack as it found it.
func protect(L *lua.LState, fn func(L *lua.LState) error) (err error) {
	top := L.GetTop()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in lua call: %v", r)
		}
		if L.GetTop() > top {
			L.SetTop(top)
		}
	}()
	return fn(L)
}

// withTimeout returns ctx bounded by d unless ctx already has a deadline.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
