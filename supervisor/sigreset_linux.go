package supervisor

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"
)

// Children must start with every signal at its default disposition and an
// empty signal mask, whatever tend inherited (supervisord's children get
// this from Python, which resets both before exec). Go's ForkExec resets
// the signals the runtime catches, but two things leak through it:
//
//   - SIGHUP and SIGINT, which the Go runtime leaves ignored when the
//     process started with them ignored (nohup, `tend daemon &`);
//   - blocked signals: the forked child restores the mask the process
//     started with.
//
// When either is the case a spawn goes through the trampoline, which
// clears both before it execs the program.

// sigSetmask is rt_sigprocmask's SIG_SETMASK on Linux.
const sigSetmask = 2

// leakedSignals are the signals whose inherited SIG_IGN Go keeps.
var leakedSignals = []syscall.Signal{syscall.SIGHUP, syscall.SIGINT}

// inheritedSigmask returns the signal mask that ForkExec gives children:
// the mask this process started with, less the signals the runtime always
// unblocks. A plain Go thread carries exactly that mask.
func inheritedSigmask() uint64 {
	ch := make(chan uint64)
	go func() {
		runtime.LockOSThread() // the thread exits with the goroutine
		var old uint64
		_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0, 0,
			uintptr(unsafe.Pointer(&old)), unsafe.Sizeof(old), 0, 0)
		if errno != 0 {
			old = 0
		}
		ch <- old
	}()
	return <-ch
}

// signalsLeak reports whether a child forked now would inherit an ignored
// signal or a blocked one (mask is inheritedSigmask's answer).
func signalsLeak(mask uint64) bool {
	if mask != 0 {
		return true
	}
	for _, s := range leakedSignals {
		if signal.Ignored(s) {
			return true
		}
	}
	return false
}

// resetSignalsForExec is the trampoline's last step before exec: the
// signals Go left ignored get a handler (exec turns a handler into the
// default disposition) and the calling thread's mask is emptied (exec
// keeps it). The caller has locked its OS thread.
func resetSignalsForExec() error {
	sigs := make([]os.Signal, len(leakedSignals))
	for i, s := range leakedSignals {
		sigs[i] = s
	}
	signal.Notify(make(chan os.Signal, 1), sigs...)
	var empty uint64
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask,
		uintptr(unsafe.Pointer(&empty)), 0, unsafe.Sizeof(empty), 0, 0)
	if errno != 0 {
		return fmt.Errorf("clear signal mask: %w", errno)
	}
	return nil
}
