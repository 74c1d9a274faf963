package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
)

// pids returns the pid of each named program, from `tend pid`.
func (d *testDaemon) pids(names ...string) map[string]int {
	d.t.Helper()
	out := map[string]int{}
	for _, n := range names {
		pid, err := strconv.Atoi(strings.TrimSpace(d.pidOf(n)))
		if err != nil || pid <= 0 {
			d.t.Fatalf("pid of %s: %q", n, d.pidOf(n))
		}
		out[n] = pid
	}
	return out
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

const recoverPrograms = `
program "a" { command = "sleep 1001", startsecs = 0 }
program "b" { command = "sleep 1002", startsecs = 0 }
`

// Issue 11, defect 6: after kill -9 of the daemon, a new daemon stops what
// the old one left running before starting its programs: one copy each.
func TestE2E_CrashRecoveryStops(t *testing.T) {
	dir := t.TempDir()
	first := startDaemonIn(t, dir, "", recoverPrograms)
	first.waitStatus("a", "RUNNING")
	first.waitStatus("b", "RUNNING")
	old := first.pids("a", "b")
	waitFor(t, "the state file", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "tend.state"))
		return bytes.Contains(b, []byte(`"pid":`+strconv.Itoa(old["b"])))
	})
	first.cmd.Process.Kill()
	<-first.exited

	second := startDaemonIn(t, dir, "", recoverPrograms)
	second.waitStatus("a", "RUNNING")
	second.waitStatus("b", "RUNNING")
	now := second.pids("a", "b")
	for name, pid := range old {
		if processAlive(pid) || now[name] == pid {
			t.Errorf("%s: old pid %d alive=%v, new pid %d: want the old one stopped", name, pid, processAlive(pid), now[name])
		}
	}
	if log := second.log(); !strings.Contains(log, "stopping 'a' (pid "+strconv.Itoa(old["a"])+") left running by a previous tend") {
		t.Errorf("the log does not name the stopped orphan:\n%s", log)
	}
}

// With orphans = "adopt" the new daemon keeps the old processes, shown
// RUNNING with their old pids.
func TestE2E_CrashRecoveryAdopts(t *testing.T) {
	dir := t.TempDir()
	extra := `orphans = "adopt"`
	first := startDaemonIn(t, dir, extra, recoverPrograms)
	first.waitStatus("a", "RUNNING")
	first.waitStatus("b", "RUNNING")
	old := first.pids("a", "b")
	t.Cleanup(func() {
		for _, pid := range old {
			if processAlive(pid) {
				syscall.Kill(pid, syscall.SIGKILL) // the adopted processes outlive a failed test
			}
		}
	})
	waitFor(t, "the state file", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "tend.state"))
		return bytes.Contains(b, []byte(`"pid":`+strconv.Itoa(old["b"])))
	})
	first.cmd.Process.Kill()
	<-first.exited

	second := startDaemonIn(t, dir, extra, recoverPrograms)
	out := second.waitStatus("a", "RUNNING")
	if !strings.Contains(out, "pid "+strconv.Itoa(old["a"])+",") || !strings.Contains(out, "output not captured") {
		t.Errorf("status a: %q, want pid %d adopted", out, old["a"])
	}
	if now := second.pids("a", "b"); !maps.Equal(now, old) {
		t.Errorf("pids %v, want the old ones %v", now, old)
	}
}

// Issue 11, defect 4: a descriptor the daemon inherited without
// close-on-exec does not reach its children.
func TestE2E_ChildrenGetOnlyStdio(t *testing.T) {
	leak, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	d := startDaemonIn(t, t.TempDir(), "", `program "a" { command = "sleep 1003", startsecs = 0 }`, leak)
	d.waitStatus("a", "RUNNING")
	pid := d.pids("a")["a"]
	if fds := testkit.FDs(t, pid); !slices.Equal(fds, []int{0, 1, 2}) {
		t.Errorf("child has descriptors %v, want [0 1 2]", fds)
	}
}
