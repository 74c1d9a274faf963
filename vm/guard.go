package vm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// DefaultStuckGrace is how long past its deadline a call may hold the
// owner goroutine before the VM counts as stuck, and how long Close waits
// for the owner goroutine to return.
const DefaultStuckGrace = time.Second

// ErrStuck is returned (wrapped, with what was running) by every call to
// a VM whose owner goroutine has been held past a call's deadline by more
// than the stuck grace: Lua cancellation cannot interrupt a Go function
// blocked in the kernel. Such a VM answers nothing until that call
// returns; the daemon should load a fresh VM and Close this one (Close
// does not wait for it).
var ErrStuck = errors.New("lua vm is stuck")

// activity is the call the owner goroutine is running.
type activity struct {
	what     string    // "on_exit hook (tend.lua:3) of web", "loading tend.lua"
	started  time.Time // when the owner goroutine took it
	deadline time.Time // zero: none
	reported bool      // the stuck call was logged and OnStuck called
}

// enter records that the owner goroutine starts running what under ctx.
func (v *VM) enter(what string, ctx context.Context) {
	a := &activity{what: what, started: time.Now()}
	a.deadline, _ = ctx.Deadline()
	v.busyMu.Lock()
	v.busy = a
	v.busyMu.Unlock()
}

// leave records that the owner goroutine is idle again.
func (v *VM) leave() {
	v.busyMu.Lock()
	v.busy = nil
	v.busyMu.Unlock()
}

// Stuck reports whether the owner goroutine is held by a call whose
// deadline passed more than the stuck grace ago, and if so what that call
// is and for how long it has run: `on_exit hook (tend.lua:3) of web,
// running for 4.2s (deadline 1s)`. A VM stops being stuck when the call
// finally returns.
func (v *VM) Stuck() (where string, stuck bool) {
	v.busyMu.Lock()
	a := v.busy
	v.busyMu.Unlock()
	if a == nil || a.deadline.IsZero() || time.Since(a.deadline) < v.grace {
		return "", false
	}
	return a.describe(), true
}

func (a *activity) describe() string {
	s := fmt.Sprintf("%s, running for %s", a.what, time.Since(a.started).Round(time.Millisecond))
	if !a.deadline.IsZero() {
		s += fmt.Sprintf(" (deadline %s)", a.deadline.Sub(a.started).Round(time.Millisecond))
	}
	return s
}

// stuckError is ErrStuck with what holds the VM; it also tells the daemon
// through Options.OnStuck, once per stuck call.
func (v *VM) stuckError(where string) error {
	v.busyMu.Lock()
	first := v.busy != nil && !v.busy.reported
	if first {
		v.busy.reported = true
	}
	v.busyMu.Unlock()
	if first {
		v.log.Error("lua vm stuck: " + where + ": a Go function did not return; further calls fail until it does")
		// Only a VM in service is replaced: a load that gets stuck just
		// fails (replacing it would load the same config again).
		if v.opts.OnStuck != nil && v.serving.Load() {
			go v.opts.OnStuck(where)
		}
	}
	return fmt.Errorf("%w: %s", ErrStuck, where)
}

// Interrupted is the error of a Lua call that was stopped before it
// finished: its deadline passed, its caller gave up, the VM was closed, or
// it broke the memory budget (Cause tells which). At is the file:line the
// Lua code was running when it was stopped, when known.
type Interrupted struct {
	At    string
	Cause error
	// Queued is set when the call never started: the VM stayed busy
	// (with what Queued says) until the call's context ended.
	Queued string
}

func (e *Interrupted) Error() string {
	switch {
	case e.Queued != "":
		return "not started: the lua vm stayed busy with " + e.Queued + ": " + e.Cause.Error()
	case e.At == "":
		return "stopped: " + e.Cause.Error()
	}
	return "stopped at " + e.At + ": " + e.Cause.Error()
}

// busyWith describes the running call, or "another call".
func (v *VM) busyWith() string {
	v.busyMu.Lock()
	defer v.busyMu.Unlock()
	if v.busy == nil {
		return "another call"
	}
	return v.busy.what
}

// Unwrap returns the cause: context.DeadlineExceeded, context.Canceled,
// a *BudgetError or errClosed.
func (e *Interrupted) Unwrap() error { return e.Cause }

// leadingPos matches the "file:line:" gopher-lua puts before a message.
var leadingPos = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([^\s:][^:\n]*:\d+):`) })

// interrupted builds the error of a call stopped by ctx; err is what the
// Lua code raised when it noticed, which starts with where it was.
func interrupted(ctx context.Context, err error) *Interrupted {
	ie := &Interrupted{Cause: context.Cause(ctx)}
	var prev *Interrupted
	if errors.As(err, &prev) {
		return prev
	}
	if err != nil {
		if m := leadingPos().FindStringSubmatch(luaMessage(err)); m != nil {
			ie.At = m[1]
		}
	}
	return ie
}

// where names the place an interrupted call was stopped, for messages that
// already say what was stopped: " at tend.lua:5", or "".
func (e *Interrupted) where() string {
	if e.At == "" {
		return ""
	}
	return " at " + e.At
}

// runJob is the body of a queued call on the owner goroutine: fn runs
// with L's context set to a child of ctx that also ends with the VM's
// life and when the memory budget is broken. An error raised because that
// context ended comes back as *Interrupted.
func (v *VM) runJob(L *lua.LState, ctx context.Context, what string, fn func(L *lua.LState) error) error {
	if err := ctx.Err(); err != nil {
		return &Interrupted{Cause: context.Cause(ctx)}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(v.life, func() { cancel(errClosed) })()
	v.enter(what, ctx)
	defer v.leave()
	stopWatch := v.watchMemory(ctx, cancel)
	L.SetContext(ctx)
	err := protect(L, fn)
	L.RemoveContext()
	stopWatch()
	if err != nil && ctx.Err() != nil {
		return interrupted(ctx, err)
	}
	return err
}

// errorHandler is the message handler of the VM's protected calls. It
// returns the error value, prefixed with the file:line of the innermost
// Lua frame when it carries none (error("x", 0), error(nil), error({})).
// Having a handler also spares gopher-lua building a traceback, which
// costs a line per tail call made: seconds for a runaway tail-recursive
// loop, after its deadline.
func errorHandler(L *lua.LState) int {
	v := L.Get(1)
	if s, ok := v.(lua.LString); ok && leadingPos().MatchString(string(s)) {
		L.Push(v)
		return 1
	}
	for level := 0; level < 8; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.CurrentLine > 0 {
			L.Push(lua.LString(fmt.Sprintf("%s:%d: %s", dbg.Source, dbg.CurrentLine, v.String())))
			return 1
		}
	}
	L.Push(v)
	return 1
}
