package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// tendBin is the tend binary built once for the end-to-end tests.
var tendBin string

func TestMain(m *testing.M) {
	runBlockExecRole()
	runListenRole()
	runServerRole()
	dir, err := os.MkdirTemp("", "tend-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if tendBin, err = testkit.BuildTend(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testkit.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// testDaemon is a tend daemon started by a test.
type testDaemon struct {
	t      *testing.T
	dir    string
	config string
	extra  string // more daemon{} settings, such as http = {...}
	cmd    *exec.Cmd
	out    *bytes.Buffer // its stderr (the echoed log)
	exited chan struct{} // closed when the daemon process has exited
}

// configText returns a config with the test's daemon{} block (plus
// extra settings) and body.
func configText(dir, extra, body string) string {
	return fmt.Sprintf(`daemon { logfile = %q, pidfile = %q, childlogdir = %q, socket = { path = %q }, %s }
%s
`, filepath.Join(dir, "tend.log"), filepath.Join(dir, "tend.pid"), filepath.Join(dir, "logs"),
		filepath.Join(dir, "tend.sock"), extra, body)
}

// writeConfig (re)writes the daemon's config.
func (d *testDaemon) writeConfig(body string) {
	d.t.Helper()
	if err := os.WriteFile(d.config, []byte(configText(d.dir, d.extra, body)), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// startDaemon runs `tend daemon` in the foreground on a config with body
// and waits until it answers.
func startDaemon(t *testing.T, body string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, "", body)
}

// startDaemonWith is startDaemon with extra daemon{} settings.
func startDaemonWith(t *testing.T, extra, body string) *testDaemon {
	t.Helper()
	return startDaemonIn(t, t.TempDir(), extra, body)
}

// startDaemonIn runs `tend daemon` on dir's config (written by the caller
// or by a previous daemon of the test), handing it files as descriptors 3
// and up without close-on-exec, as a careless parent would.
func startDaemonIn(t *testing.T, dir, extra, body string, files ...*os.File) *testDaemon {
	t.Helper()
	return startDaemonVia(t, nil, dir, extra, body, files...)
}

// startDaemonVia is startDaemonIn with `tend daemon` run by a wrapper
// command (wrap followed by the tend command line), such as a shell that
// ignores signals first.
func startDaemonVia(t *testing.T, wrap []string, dir, extra, body string, files ...*os.File) *testDaemon {
	t.Helper()
	d := &testDaemon{t: t, dir: dir, config: filepath.Join(dir, "tend.lua"), extra: extra, out: new(bytes.Buffer)}
	d.writeConfig(body)
	argv := append(append([]string{}, wrap...), tendBin, "daemon", "-c", d.config)
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.ExtraFiles = files
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	d.exited = exited
	go func() { d.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-exited
		}
	})
	waitFor(t, "daemon answering", func() bool {
		select {
		case <-exited:
			t.Fatalf("daemon exited early: %s", d.out)
		default:
		}
		_, rc := d.ctl("version")
		return rc == 0
	})
	return d
}

// ctl runs a tend command against the daemon and returns its combined
// output and exit code.
func (d *testDaemon) ctl(args ...string) (string, int) {
	return runTend(d.t, append([]string{"-c", d.config}, args...)...)
}

// runTend runs the tend binary and returns stdout+stderr and the exit code.
func runTend(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(tendBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("tend %v: %v", args, err)
		}
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// waitFor polls cond until it holds, failing the test after a deadline
// (the daemon runs in another process: there is no event to wait on).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 0, cond)
}

// waitStatus waits until `status NAME` reports state.
func (d *testDaemon) waitStatus(name, state string) string {
	d.t.Helper()
	var out string
	waitFor(d.t, name+" "+state, func() bool {
		out, _ = d.ctl("status", name)
		return strings.Contains(out, " "+state+" ")
	})
	return out
}

// log returns the daemon's main log file.
func (d *testDaemon) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "tend.log"))
	return string(b)
}

// pidOf returns the pid `tend pid NAME` prints.
func (d *testDaemon) pidOf(name string) string {
	d.t.Helper()
	out, _ := d.ctl("pid", name)
	return strings.TrimSpace(out)
}

// check matches output against a regexp (anchored) and the exit code.
func check(t *testing.T, args []string, out string, rc int, want string, wantRC int) {
	t.Helper()
	if !regexp.MustCompile(`^(?s:`+want+`)$`).MatchString(out) || rc != wantRC {
		t.Errorf("tend %s: rc %d, output:\n%s\nwant rc %d, output matching:\n%s", strings.Join(args, " "), rc, out, wantRC, want)
	}
}
