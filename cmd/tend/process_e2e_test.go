package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// procStatus returns a field of /proc/PID/status.
func procStatus(t *testing.T, pid, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("status of pid %s: %v", pid, err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s*(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /proc/%s/status", field, pid)
	}
	return strings.Join(strings.Fields(string(m[1])), " ")
}

// waitExeced waits until pid runs prog. RUNNING with startsecs 0 can come
// while the pid is still the trampoline, whose leader thread shows the Go
// runtime's mask until it execs the program from its cleared thread.
func waitExeced(t *testing.T, pid, prog string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil {
			t.Fatalf("cmdline of pid %s: %v", pid, err)
		}
		if arg0, _, _ := strings.Cut(string(b), "\x00"); filepath.Base(arg0) == prog {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %s still runs %q, not %s", pid, b, prog)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockExecEnv makes this test binary a wrapper that blocks signals and
// execs the rest of its command line (runBlockExecRole).
const blockExecEnv = "TEND_TEST_BLOCKEXEC"

// runBlockExecRole, called first in TestMain, blocks SIGUSR1, SIGUSR2
// and SIGTERM and execs os.Args[1:] when the binary runs as that wrapper.
func runBlockExecRole() {
	if os.Getenv(blockExecEnv) != "1" || len(os.Args) < 2 {
		return
	}
	runtime.LockOSThread()
	set := uint64(1<<(syscall.SIGUSR1-1) | 1<<(syscall.SIGUSR2-1) | 1<<(syscall.SIGTERM-1))
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0, uintptr(unsafe.Pointer(&set)), 0, unsafe.Sizeof(set), 0, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "block signals:", errno)
		os.Exit(1)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(1)
}

// A tend started the way `nohup tend daemon &` starts it, with SIGHUP and
// SIGINT ignored, and by a parent that left signals blocked, still gives
// its programs default signals and an empty mask: stopsignal INT stops a
// program at once instead of after stopwaitsecs and SIGKILL.
func TestE2E_ChildSignalsDefault(t *testing.T) {
	wrap := []string{"/bin/sh", "-c", `trap "" HUP INT; exec "$@"`, "sh", "/usr/bin/env", blockExecEnv + "=1", os.Args[0]}
	d := startDaemonVia(t, wrap, t.TempDir(), "",
		`program "web" { command = "sleep 1000", startsecs = 0, stopsignal = "INT", stopwaitsecs = 30 }`)
	d.waitStatus("web", "RUNNING")
	pid := d.pidOf("web")
	waitExeced(t, pid, "sleep")
	if got := procStatus(t, pid, "SigIgn"); got != "0000000000000000" {
		t.Errorf("the program ignores signals %s", got)
	}
	if got := procStatus(t, pid, "SigBlk"); got != "0000000000000000" {
		t.Errorf("the program blocks signals %s", got)
	}
	start := time.Now()
	out, rc := d.ctl("stop", "web")
	if rc != 0 || out != "web: stopped\n" {
		t.Fatalf("stop: rc %d %q", rc, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stop took %s: SIGINT did not stop the program", took)
	}
	if log := d.log(); strings.Contains(log, "SIGKILL") {
		t.Errorf("the stop needed SIGKILL:\n%s", log)
	}
}

// daemon { user = "nobody" } makes tend drop root once its socket, log and
// pidfile are open, as supervisord's user= does: the daemon and its
// programs run as nobody, the root-owned socket still answers, and the log
// says so instead of the running-as-root CRIT.
func TestE2E_DaemonUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: only root can drop to another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this machine")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	// The daemon reads its config (reload) and opens child logs as nobody.
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "logs"), uid, gid); err != nil {
		t.Fatal(err)
	}
	d := startDaemonVia(t, nil, dir, `user = "nobody"`,
		`program "app" { command = "sleep 1000", startsecs = 0 }`)
	d.waitStatus("app", "RUNNING")
	want := nobody.Uid + " " + nobody.Uid + " " + nobody.Uid + " " + nobody.Uid
	for what, pid := range map[string]string{"daemon": strconv.Itoa(d.cmd.Process.Pid), "program": d.pidOf("app")} {
		if got := procStatus(t, pid, "Uid"); got != want {
			t.Errorf("%s runs with uids %s, want %s", what, got, want)
		}
		if got := procStatus(t, pid, "Gid"); !strings.HasPrefix(got, nobody.Gid+" ") {
			t.Errorf("%s runs with gids %s, want %s", what, got, nobody.Gid)
		}
		if got := procStatus(t, pid, "Groups"); strings.Contains(" "+got+" ", " 0 ") {
			t.Errorf("%s kept root's group: %s", what, got)
		}
	}
	log := d.log()
	if !strings.Contains(log, "INFO Set uid to user nobody (uid "+nobody.Uid+") succeeded") || strings.Contains(log, "running as root") {
		t.Errorf("log:\n%s", log)
	}
	// The log opened as root is still written to after the drop.
	if out, rc := d.ctl("restart", "app"); rc != 0 {
		t.Fatalf("restart: rc %d %s", rc, out)
	}
	waitFor(t, "the restart in the log", func() bool { return strings.Count(d.log(), "spawned: 'app'") == 2 })
}
