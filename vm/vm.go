package vm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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
	memLimit    int64         // the config's lua_memory_limit, or the default; < 0 = none
	loadTimeout time.Duration // the config's load_timeout, or the default
	grace       time.Duration // see DefaultStuckGrace

	jobs      chan func(*lua.LState)
	events    chan supervisor.Event
	done      chan struct{}   // closed by Close
	life      context.Context // cancelled by Close: ends any running call
	endLife   context.CancelFunc
	exited    chan struct{} // closed when the owner goroutine has returned
	closeOnce sync.Once

	// Owned by the owner goroutine.
	L        *lua.LState
	onError  *lua.LFunction    // the message handler of every PCall: see errorHandler
	path     string            // the config file as given to Load
	dir      string            // its folder, absolute: the sandbox's root
	printTo  *strings.Builder  // where print goes during Eval; nil = the log
	state    *loadState        // declarations, kept for Resolve
	sources  map[string][]byte // chunk name -> source, kept while a load runs
	resolver *resolver         // the resolver of the last load, for Resolve
	ini      *iniMap           // the map back to an INI config's lines; nil for Lua

	hookCounts hookCounters
	exitHook   *lua.LFunction // daemon{ exit_codes } when it is a function

	mu        sync.Mutex
	observers map[string]*hooks // namespec -> hooks with on_start/on_state
	dropped   int

	busyMu sync.Mutex
	busy   *activity // what the owner goroutine runs; nil when idle

	abandonOnce sync.Once
	serving     atomic.Bool // Load returned this VM: OnStuck may replace it
}

// newVM creates the sandboxed state and starts its owner goroutine.
func newVM(path, dir string, opts Options) *VM {
	v := &VM{
		opts:        opts,
		log:         opts.Logger,
		hookTimeout: opts.HookTimeout,
		memLimit:    opts.MemoryLimit,
		loadTimeout: opts.LoadTimeout,
		grace:       opts.StuckGrace,
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
	if v.memLimit == 0 {
		v.memLimit = DefaultMemoryLimit
	}
	if v.loadTimeout <= 0 {
		v.loadTimeout = DefaultLoadTimeout
	}
	if v.grace <= 0 {
		v.grace = DefaultStuckGrace
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
// supervisord's rules. Close cancels the running call and waits for the
// owner goroutine at most the stuck grace: a goroutine held by a Go
// function blocked in the kernel is abandoned (logged with what it was
// running) and releases the state if that function ever returns.
func (v *VM) Close() {
	v.closeOnce.Do(func() {
		v.endLife()
		close(v.done)
	})
	t := time.NewTimer(v.grace)
	defer t.Stop()
	select {
	case <-v.exited:
	case <-t.C:
		v.abandonOnce.Do(func() {
			what := "nothing known"
			v.busyMu.Lock()
			if v.busy != nil {
				what = v.busy.describe()
			}
			v.busyMu.Unlock()
			v.log.Error(fmt.Sprintf("lua vm abandoned: its goroutine did not return within %s of Close; it was running %s", v.grace, what))
		})
	}
}

// run executes fn on the owner goroutine with L's context set to ctx, so
// the Lua code it runs is cancelled when ctx ends; what names the call for
// the stuck report ("on_exit hook (tend.lua:3) of web"). It returns fn's
// error (an *Interrupted when ctx ended first and the Lua code noticed).
// It never waits past ctx's end plus the stuck grace: a call still
// running then has a Go function blocked on the owner goroutine, and
// run returns ErrStuck, as does every call made while the VM is stuck.
func (v *VM) run(ctx context.Context, what string, fn func(L *lua.LState) error) error {
	if where, stuck := v.Stuck(); stuck {
		return v.stuckError(where)
	}
	res := make(chan error, 1)
	job := func(L *lua.LState) { res <- v.runJob(L, ctx, what, fn) }
	select {
	case v.jobs <- job:
	case <-ctx.Done():
		if where, stuck := v.Stuck(); stuck {
			return v.stuckError(where)
		}
		return &Interrupted{Cause: context.Cause(ctx), Queued: v.busyWith()}
	case <-v.done:
		return errClosed
	}
	select {
	case err := <-res:
		return err
	case <-v.exited:
		return errClosed
	case <-ctx.Done():
	}
	// The Lua code notices a cancelled context at its next instruction;
	// wait that long for where it was, but no longer than the grace.
	t := time.NewTimer(v.grace)
	defer t.Stop()
	select {
	case err := <-res:
		return err
	case <-v.exited:
		return errClosed
	case <-t.C:
		where := what + ": did not return after its deadline"
		v.busyMu.Lock()
		if v.busy != nil {
			where = v.busy.describe()
		}
		v.busyMu.Unlock()
		return v.stuckError(where)
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
