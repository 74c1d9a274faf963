package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/vm"
)

// tendBin is the tend binary built once for the end-to-end tests.
var tendBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tend-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tendBin = filepath.Join(dir, "tend")
	if out, err := exec.Command("go", "build", "-o", tendBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tend: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a tend daemon started by a test.
type daemon struct {
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
func (d *daemon) writeConfig(body string) {
	d.t.Helper()
	if err := os.WriteFile(d.config, []byte(configText(d.dir, d.extra, body)), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// startDaemon runs `tend daemon` in the foreground on a config with body
// and waits until it answers.
func startDaemon(t *testing.T, body string) *daemon {
	t.Helper()
	return startDaemonWith(t, "", body)
}

// startDaemonWith is startDaemon with extra daemon{} settings.
func startDaemonWith(t *testing.T, extra, body string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{t: t, dir: dir, config: filepath.Join(dir, "tend.lua"), extra: extra, out: new(bytes.Buffer)}
	d.writeConfig(body)
	d.cmd = exec.Command(tendBin, "daemon", "-c", d.config)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
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
func (d *daemon) ctl(args ...string) (string, int) {
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

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus waits until `status NAME` reports state.
func (d *daemon) waitStatus(name, state string) string {
	d.t.Helper()
	var out string
	waitFor(d.t, name+" "+state, func() bool {
		out, _ = d.ctl("status", name)
		return strings.Contains(out, " "+state+" ")
	})
	return out
}

// log returns the daemon's main log file.
func (d *daemon) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "tend.log"))
	return string(b)
}

// pidOf returns the pid `tend pid NAME` prints.
func (d *daemon) pidOf(name string) string {
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

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestNeedRestart(t *testing.T) {
	base := vm.Daemon{Logfile: "a.log", Socket: vm.SocketConfig{Path: "/run/a.sock", Mode: 0o700},
		HTTP: &vm.HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "p"}, LogLevel: "info"}
	cases := []struct {
		name string
		edit func(*vm.Daemon)
		want string
	}{
		{"nothing", func(*vm.Daemon) {}, ""},
		{"loglevel applies live", func(d *vm.Daemon) { d.LogLevel = "debug" }, ""},
		{"socket", func(d *vm.Daemon) { d.Socket.Path = "/run/b.sock" }, "socket"},
		{"http password", func(d *vm.Daemon) { d.HTTP = &vm.HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "q"} }, "http"},
		{"http removed", func(d *vm.Daemon) { d.HTTP = nil }, "http"},
		{"logfile and env", func(d *vm.Daemon) { d.LogfileBackups = 3; d.Environment = map[string]string{"A": "1"} }, "logfile_backups, environment"},
	}
	for _, c := range cases {
		cur := base
		c.edit(&cur)
		if got := strings.Join(needRestart(base, cur), ", "); got != c.want {
			t.Errorf("%s: needRestart = %q, want %q", c.name, got, c.want)
		}
	}
}
