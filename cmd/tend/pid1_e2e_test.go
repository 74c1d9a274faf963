package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// unshareOrSkip skips the test when unshare(1) cannot make a PID namespace
// here (not installed, or not permitted), naming why; under CI=true that
// is a failure, since CI runs as root with util-linux.
func unshareOrSkip(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("unshare")
	if err == nil {
		err = exec.Command(path, "--pid", "--fork", "--mount-proc", "true").Run()
	}
	if err != nil {
		msg := fmt.Sprintf("unshare --pid --fork --mount-proc (util-linux, needs root or a user namespace): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// procStat returns the state letter and parent pid of pid.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid, true
}

// childPid returns the one child of pid (unshare --fork's child, tend).
func childPid(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// TestPID1 runs tend as PID 1 of a new PID namespace beside a program that
// double-forks a storm of short-lived orphans, a crash-looping one and
// one killing itself: every orphan comes to tend and is reaped (none stays
// a zombie for a second), every managed exit is reported with its true
// code or signal (none lost to the orphan reaping), and SIGTERM from
// outside ends tend with 0.
func TestPID1(t *testing.T) {
	unshare := unshareOrSkip(t)
	dir := t.TempDir()
	body := `
program "storm" { command = "sh -c 'while :; do (sleep 0.02 &); (sleep 0.01 &); sleep 0.005; done'", startsecs = 0 }
program "crash" { command = "sh -c 'sleep 0.05; exit 3'", startsecs = 0, autorestart = true }
program "killed" { command = "sh -c 'sleep 0.05; kill -KILL $$'", startsecs = 0, autorestart = true }
`
	config := filepath.Join(dir, "tend.lua")
	if err := os.WriteFile(config, []byte(configText(dir, `loglevel = "debug", subreaper = false`, body)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := new(testkit.Buffer) // read while tend writes it
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", tendBin, "daemon", "-c", config)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			// tend is the namespace's PID 1: killing it kills the rest.
			if pid := childPid(cmd.Process.Pid); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			cmd.Process.Kill()
			<-exited
		}
	})
	var tend int
	waitFor(t, "tend started in the namespace", func() bool {
		tend = childPid(cmd.Process.Pid)
		return tend > 0 && strings.Contains(out.String(), "spawned: 'storm'")
	})
	if !strings.Contains(out.String(), "container mode: tend reaps every orphan (pid 1)") {
		t.Errorf("tend in a new PID namespace does not say it is PID 1 in container mode:\n%s", out)
	}
	// Watch tend's zombie children for three seconds at least, and until
	// the storm has made enough orphans and exits to judge (a loaded
	// machine runs it slowly): no zombie may last a second.
	orphans := func() int { return strings.Count(out.String(), "reaped unknown pid") }
	crashes := func() int { return strings.Count(out.String(), "exited: crash (") }
	seen := map[int]time.Time{}
	worst := time.Duration(0)
	start := time.Now()
	for time.Since(start) < 3*time.Second || (orphans() < 100 || crashes() < 5) && time.Since(start) < time.Minute {
		time.Sleep(50 * time.Millisecond)
		ents, _ := os.ReadDir("/proc")
		now := time.Now()
		zombies := map[int]bool{}
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if st, ppid, ok := procStat(pid); ok && st == 'Z' && ppid == tend {
				zombies[pid] = true
				if _, ok := seen[pid]; !ok {
					seen[pid] = now
				}
				worst = max(worst, now.Sub(seen[pid]))
			}
		}
		for pid := range seen {
			if !zombies[pid] {
				delete(seen, pid)
			}
		}
	}
	if worst >= time.Second {
		t.Errorf("a zombie child of tend lasted %v", worst)
	}
	syscall.Kill(tend, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("tend did not exit on SIGTERM:\n%s", out)
	}
	log := out.String()
	kills := strings.Count(log, "exited: killed (")
	t.Logf("orphans reaped %d, crash exits %d, kills %d, longest-lived zombie seen %v", orphans(), crashes(), kills, worst)
	if orphans() < 100 || crashes() < 5 || kills < 5 {
		t.Errorf("too few orphans reaped or exits reported:\n%s", log)
	}
	if m := regexp.MustCompile(`exited: (crash|killed) \((.*)\)`).FindAllStringSubmatch(log, -1); len(m) > 0 {
		for _, x := range m {
			if x[2] != "exit status 3; not expected" && x[2] != "terminated by SIGKILL; not expected" {
				t.Errorf("a managed exit reported wrong: %s", x[0])
			}
		}
	}
	if rc := cmd.ProcessState.ExitCode(); rc != 0 || !strings.Contains(log, "tend exiting with status 0: received SIGTERM") {
		t.Errorf("rc %d, want 0 and the cause logged:\n%s", rc, log)
	}
}
