package supervisor

import (
	"fmt"
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
// signals Go left ignored go back to their default disposition and the
// calling thread's mask is emptied (exec keeps both). The caller has
// locked its OS thread.
//
// The disposition is set with rt_sigaction rather than by giving the
// signal a Go handler (exec would turn that into the default too): a stop
// signal arriving between this call and exec then ends the trampoline as
// it would end the program, instead of landing in a handler nobody reads.
func resetSignalsForExec() error {
	for _, s := range leakedSignals {
		if err := defaultDisposition(s); err != nil {
			return err
		}
	}
	var empty uint64
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask,
		uintptr(unsafe.Pointer(&empty)), 0, unsafe.Sizeof(empty), 0, 0)
	if errno != 0 {
		return fmt.Errorf("clear signal mask: %w", errno)
	}
	return nil
}

// kernelSigaction is the kernel's struct sigaction on Linux; all zero is
// SIG_DFL with no flags and an empty mask.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// defaultDisposition sets sig to SIG_DFL behind the Go runtime's back; only
// for a process about to exec.
func defaultDisposition(sig syscall.Signal) error {
	var act kernelSigaction
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return fmt.Errorf("default disposition of %v: %w", sig, errno)
	}
	return nil
}
