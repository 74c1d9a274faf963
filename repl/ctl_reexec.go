package repl

import (
	"context"
	"time"
)

// reexecWait bounds the wait for the daemon to serve again after a
// re-exec (it takes milliseconds; the bound only matters for a new binary
// that hangs).
const reexecWait = time.Minute

// reexec replaces the daemon's binary in place: reexec [--binary PATH].
// The daemon answers once the new binary passed its check, just before it
// execs it; the command then waits until the daemon serves again and
// reports the outcome.
func (x *ctl) reexec(ctx context.Context, args []string) {
	binary := ""
	switch {
	case len(args) == 0:
	case len(args) == 2 && args[0] == "--binary":
		binary = args[1]
	default:
		x.fail(exitInvalidArgs, "Error: reexec takes no arguments but --binary PATH")
		return
	}
	reply, err := x.c.Reexec(ctx, binary)
	if ae := apiError(err); ae != nil {
		x.fail(exitGeneric, "ERROR: re-exec refused: %s", ae.Message)
		return
	}
	if x.transport(err) {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, reexecWait)
	defer cancel()
	st, err := x.c.WaitReexec(wctx, reply.Generation)
	if err != nil {
		x.fail(exitGeneric, "ERROR: the daemon did not serve again after exec'ing %s: %v", reply.Binary, err)
		return
	}
	if st.Error != "" {
		x.fail(exitGeneric, "ERROR: re-exec failed, the daemon goes on as version %s (pid %d): %s", st.Version, st.Pid, st.Error)
		return
	}
	x.printf("re-executed tend (pid %d): %s -> %s in %.1f ms\n", st.Pid, reply.FromVersion, st.Version, st.WindowMS)
}
