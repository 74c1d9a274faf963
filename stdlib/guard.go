package stdlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// maxBlocked bounds how many guarded calls of one Lua state may still be
// blocked in the kernel after their callers gave up on them. Each holds a
// goroutine (and, while in a system call, an OS thread) until the kernel
// lets it go; past the bound further calls fail at once instead of piling
// up threads behind a hung file system.
const maxBlocked = 16

// guard runs the work of stdlib functions that can block in the kernel
// (file system, /proc, the daemon) off the Lua goroutine, so that the
// caller's deadline (L.Context()) always wins: gopher-lua cancels Lua code
// between instructions but cannot interrupt a Go function.
type guard struct {
	slots chan struct{} // one token per call in flight
	// testBlock, when set (by tests), runs inside every guarded call
	// before its work: it simulates a call stuck in the kernel.
	testBlock func(name string)
}

func newGuard(testBlock func(string)) *guard {
	return &guard{slots: make(chan struct{}, maxBlocked), testBlock: testBlock}
}

// do runs fn on its own goroutine and waits for it or for the end of L's
// context, whichever comes first. When the context ends first the call is
// abandoned: fn keeps its goroutine until it returns, and its result is
// dropped, and the error says where the caller was. name ("fs.read")
// is for testBlock; callers prefix their errors with it.
func do[T any](g *guard, L *lua.LState, name string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case g.slots <- struct{}{}:
	default:
		return zero, fmt.Errorf("%d earlier calls are still blocked in the kernel; refusing another", maxBlocked)
	}
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1) // buffered: an abandoned call must not block on send
	go func() {
		defer func() { <-g.slots }()
		if g.testBlock != nil {
			g.testBlock(name)
		}
		v, err := fn(ctx)
		res <- result{v, err}
	}()
	select {
	case r := <-res:
		return r.v, r.err
	case <-ctx.Done():
		return zero, fmt.Errorf("%w: abandoned at %s still blocked when the caller's deadline passed", context.Cause(ctx), strings.TrimSuffix(Where(L), ":"))
	}
}

// raise turns err into a Lua error "name: err".
func raise(L *lua.LState, name string, err error) {
	L.RaiseError("%s: %v", name, err)
}

// ReadFile reads a whole file, failing when it is larger than limit. It
// never blocks past ctx: the file is opened non-blocking (so opening a
// FIFO that has no writer does not wait for one; it reads as empty) and
// reads from pipes, FIFOs and devices stop at ctx's deadline or
// cancellation. Regular files cannot be interrupted this way; callers that
// must not wait on a hung file system run ReadFile under guard.
func ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Stop the read once ctx has ended (not at its deadline: ctx must be
	// done by then, so that the Lua code calling us stops too rather than
	// carrying on as if the file were merely unreadable). Regular files
	// have no deadlines (os.ErrNoDeadline); they do not block.
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return nil, fmt.Errorf("read %s: %w", path, context.Cause(ctx))
		}
		return nil, err // an *os.PathError: "read <path>: ..."
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: file larger than %d bytes", path, limit)
	}
	return b, nil
}
