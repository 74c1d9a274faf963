package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestChildSignalsAreReset starts an engine the way `nohup tend daemon &`
// does, with SIGHUP and SIGINT ignored, and with signals blocked as a
// careless parent may leave them: its child must still start with no
// signal ignored and none blocked, or `stopsignal = "INT"` does nothing.
func TestChildSignalsAreReset(t *testing.T) {
	for _, c := range []struct{ name, trap, block string }{
		{"ignored", `trap "" HUP INT`, ""},
		{"blocked", "", "yes"},
		{"both", `trap "" HUP INT QUIT`, "yes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			script := `exec "$0"`
			if c.trap != "" {
				script = c.trap + "; " + script
			}
			cmd := exec.Command("/bin/sh", "-c", script, os.Args[0])
			cmd.Env = append(os.Environ(), testRoleEnv+"=sig-block", "TEND_TEST_DIR="+dir, "TEND_TEST_BLOCK="+c.block)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper engine: %v\n%s", err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, "status"))
			if err != nil {
				t.Fatalf("child status: %v (helper said %s)", err, out)
			}
			for _, field := range []string{"SigIgn", "SigBlk"} {
				m := regexp.MustCompile(field + `:\s+([0-9a-f]+)`).FindSubmatch(b)
				if m == nil || string(m[1]) != "0000000000000000" {
					t.Errorf("child %s = %q, want 0 (helper said %s)", field, m, out)
				}
			}
		})
	}
}

// runSigBlockRole blocks SIGUSR1 and SIGTERM when asked and execs this
// binary again as the signal engine, which then starts with that mask.
func runSigBlockRole() {
	if os.Getenv("TEND_TEST_BLOCK") != "" {
		runtime.LockOSThread()
		set := uint64(1<<(syscall.SIGUSR1-1) | 1<<(syscall.SIGTERM-1) | 1<<(syscall.SIGUSR2-1))
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0, uintptr(unsafe.Pointer(&set)), 0, unsafe.Sizeof(set), 0, 0); errno != 0 {
			fmt.Println("ERROR block:", errno)
			os.Exit(1)
		}
	}
	os.Setenv(testRoleEnv, "sig-engine")
	err := syscall.Exec(os.Args[0], os.Args[:1], os.Environ())
	fmt.Println("ERROR exec:", err)
	os.Exit(1)
}

// runSigEngineRole runs one child that copies its /proc status to a file.
func runSigEngineRole() {
	dir := os.Getenv("TEND_TEST_DIR")
	e := New(Config{ChildLogDir: dir, Trampoline: []string{os.Args[0], TrampolineArg}})
	s := NewSpec("status", "cat", "/proc/self/status")
	s.StartSecs = 0
	s.AutoRestart = RestartNever
	s.Stdout.Path = filepath.Join(dir, "status")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Update(ctx, []Spec{s}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	for {
		if i, err := e.Info("status"); err == nil && i.State == Exited {
			break
		}
		if ctx.Err() != nil {
			fmt.Println("ERROR child did not exit")
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Shutdown(ctx)
	os.Exit(0)
}
