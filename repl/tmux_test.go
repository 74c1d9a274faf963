package repl

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// tendBin is the tend binary TestMain builds for the end-to-end tests;
// buildErr says why there is none.
var (
	tendBin  string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "tend-repl-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !testing.Short() {
		tendBin, buildErr = testkit.BuildTend(dir)
	}
	code := testkit.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running `tend daemon` for one test.
type daemon struct {
	dir, sock string
	pid       int
}

// startDaemon starts tend daemon with a one-program config, waits until
// it reports the program RUNNING and stops it (SIGTERM) when t ends.
func startDaemon(t *testing.T) *daemon {
	t.Helper()
	return startDaemonWith(t, "", `program "sleeper" { command = "sleep 1000", startsecs = 0 }`, "sleeper")
}

// startDaemonWith starts tend daemon with more daemon{} options and the
// programs given as config text, and waits until status shows each of
// running RUNNING.
func startDaemonWith(t *testing.T, daemonOpts, programs string, running ...string) *daemon {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the tend daemon")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	dir := t.TempDir()
	d := &daemon{dir: dir, sock: filepath.Join(dir, "tend.sock")}
	cfg := filepath.Join(dir, "tend.lua")
	conf := fmt.Sprintf(`daemon { logfile = %q, pidfile = %q, childlogdir = %q, socket = { path = %q }, %s }
%s
`, filepath.Join(dir, "tend.log"), filepath.Join(dir, "tend.pid"), dir, d.sock, daemonOpts, programs)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(tendBin, "daemon", "-c", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	d.pid = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("daemon exited with %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("daemon did not stop on SIGTERM\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := d.tend("status").Output()
		if allRunning(string(out), running) {
			return d
		}
		select {
		case err := <-exited:
			t.Fatalf("daemon exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon never reported %q RUNNING; last status %q\n%s", running, out, logs.String())
		}
	}
}

// allRunning reports whether the status output shows each of names
// RUNNING.
func allRunning(status string, names []string) bool {
	for _, n := range names {
		if !slices.ContainsFunc(strings.Split(status, "\n"), func(l string) bool {
			f := strings.Fields(l)
			return len(f) >= 2 && f[0] == n && f[1] == "RUNNING"
		}) {
			return false
		}
	}
	return true
}

// tend returns a tend command talking to the daemon.
func (d *daemon) tend(args ...string) *exec.Cmd {
	return exec.Command(tendBin, append([]string{"-s", "unix://" + d.sock}, args...)...)
}

func TestREPLPiped(t *testing.T) {
	d := startDaemon(t)
	tests := []struct {
		name, in       string
		exact          bool   // stdout must equal stdout
		stdout         string // the exact stdout
		stdoutContains []string
		stderr         string // stderr contains
		stderrAnyOf    []string
		wantCode       int
	}{
		{name: "status", in: "status\n", stdoutContains: []string{"sleeper", "RUNNING"}},
		{name: "expression", in: "1+1\n", stdout: "2\n", exact: true},
		{name: "print", in: "print('a')\nprint('b')\n", stdout: "a\nb\n", exact: true},
		{name: "multi-line chunk", in: "function sq(x)\n  return x*x\nend\nsq(5)\n", stdout: "25\n", exact: true},
		{name: "state persists between chunks", in: "n = 41\nn + 1\n", stdout: "42\n", exact: true},
		{name: "sv module is the live engine", in: "sv = require 'sv'\nfor _, p in ipairs(sv.status()) do print(p.name, p.state) end\n", stdoutContains: []string{"sleeper\tRUNNING"}},
		{name: "lua error", in: "error('boom')\n1+2\n", stdout: "3\n", exact: true, stderr: "boom", wantCode: 1},
		{name: "unterminated string", in: "s = \"abc\n1+3\n", stdout: "4\n", exact: true, wantCode: 1},
		{
			name: "runaway chunk is cancelled by the daemon deadline",
			in:   "while true do end\nstatus\n", stdoutContains: []string{"sleeper", "RUNNING"},
			stderrAnyOf: []string{"deadline", "timeout", "timed out", "still running", "cancelled"}, wantCode: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := d.tend("repl")
			cmd.Stdin = strings.NewReader(tt.in)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			if err != nil && code < 0 {
				t.Fatalf("tend repl: %v", err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr %q", code, tt.wantCode, stderr.String())
			}
			if tt.exact && stdout.String() != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdout)
			}
			for _, s := range tt.stdoutContains {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout = %q, want it to contain %q", stdout.String(), s)
				}
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			if len(tt.stderrAnyOf) > 0 && !slices.ContainsFunc(tt.stderrAnyOf, func(s string) bool { return strings.Contains(stderr.String(), s) }) {
				t.Errorf("stderr = %q, want one of %q", stderr.String(), tt.stderrAnyOf)
			}
			if strings.Contains(stdout.String(), prompt) || strings.Contains(stderr.String(), prompt) {
				t.Errorf("piped REPL printed a prompt: %q %q", stdout.String(), stderr.String())
			}
		})
	}
}

// tmuxPane drives one tmux session on a private server.
type tmuxPane struct {
	t    *testing.T
	sock string
}

// tmux runs a tmux command on the test's server.
func (p *tmuxPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", p.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// send types keys (tmux key names such as Enter, Tab, C-c).
func (p *tmuxPane) send(keys ...string) {
	p.t.Helper()
	p.tmux(append([]string{"send-keys", "-t", "repl"}, keys...)...)
}

// typeLine types text literally and presses Enter.
func (p *tmuxPane) typeLine(text string) {
	p.t.Helper()
	p.tmux("send-keys", "-t", "repl", "-l", text)
	p.send("Enter")
}

// lines returns the pane's whole scrollback and screen.
func (p *tmuxPane) lines() []string {
	p.t.Helper()
	out := p.tmux("capture-pane", "-p", "-t", "repl", "-S", "-", "-E", "-")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// waitFor polls the pane until ok holds for the lines after the last line
// equal to from ("" for the whole pane).
func (p *tmuxPane) waitFor(what, from string, ok func(lines []string) bool) []string {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines := p.lines()
		after := lines
		if from != "" {
			after = nil
			for j := len(lines) - 1; j >= 0; j-- {
				if lines[j] == from {
					after = lines[j+1:]
					break
				}
			}
		}
		if after != nil && ok(after) {
			return after
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s; pane:\n%s", what, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasLine returns a predicate: some line equals s.
func hasLine(s string) func([]string) bool {
	return func(lines []string) bool { return slices.Contains(lines, s) }
}

// lastLineIs returns a predicate: the last line equals s.
func lastLineIs(s string) func([]string) bool {
	return func(lines []string) bool { return len(lines) > 0 && lines[len(lines)-1] == s }
}

func TestREPLTerminal(t *testing.T) {
	testkit.RequireTool(t, "tmux")
	d := startDaemon(t)
	state := filepath.Join(d.dir, "state")
	p := &tmuxPane{t: t, sock: filepath.Join(d.dir, "tmux.sock")}
	// The exit status is echoed by a shell (tmux's #{pane_dead_status} is
	// sometimes empty). The shell traps SIGINT so that the Ctrl-C sent to
	// the foreground process group does not kill it; tend gets the default
	// disposition back, as every child of a trapping shell does.
	command := fmt.Sprintf("env XDG_STATE_HOME=%s sh -c 'trap : INT; %s -s unix://%s repl; echo tend-repl-exit=$?; sleep 60'", state, tendBin, d.sock)
	p.tmux("new-session", "-d", "-s", "repl", "-x", "200", "-y", "50", command)
	p.tmux("set-option", "-t", "repl", "remain-on-exit", "on")
	t.Cleanup(func() { exec.Command("tmux", "-S", p.sock, "kill-server").Run() })

	p.waitFor("the prompt", "", lastLineIs("tend>"))

	// A ctl command.
	p.typeLine("status")
	p.waitFor("status output", "tend> status", func(l []string) bool {
		return len(l) >= 2 && strings.HasPrefix(l[0], "sleeper") && strings.Contains(l[0], "RUNNING") && l[len(l)-1] == "tend>"
	})

	// A Lua expression.
	p.typeLine("1+1")
	p.waitFor("1+1 = 2", "tend> 1+1", func(l []string) bool { return slices.Equal(l, []string{"2", "tend>"}) })

	// A multi-line chunk: continuation prompts, then one evaluation.
	p.typeLine("function sq(x)")
	p.waitFor("a continuation prompt", "tend> function sq(x)", lastLineIs("  ..."))
	p.typeLine("return x*x")
	p.typeLine("end")
	p.waitFor("the chunk to run", "  ... end", lastLineIs("tend>"))
	p.typeLine("sq(7)")
	p.waitFor("sq(7) = 49", "tend> sq(7)", func(l []string) bool { return slices.Equal(l, []string{"49", "tend>"}) })

	// Ctrl-C drops a half-typed chunk.
	p.typeLine("function g()")
	p.waitFor("a continuation prompt", "tend> function g()", lastLineIs("  ..."))
	p.send("C-c")
	p.waitFor("a fresh prompt after Ctrl-C", "tend> function g()", lastLineIs("tend>"))
	p.typeLine("1+2")
	p.waitFor("1+2 = 3 with the buffer cleared", "tend> 1+2", func(l []string) bool { return slices.Equal(l, []string{"3", "tend>"}) })

	// Completion: a unique prefix completes, an ambiguous one lists.
	p.tmux("send-keys", "-t", "repl", "-l", "stat")
	p.send("Tab")
	p.waitFor("stat<TAB> to complete", "", lastLineIs("tend> status"))
	p.send("Enter")
	p.waitFor("completed status to run", "tend> status", func(l []string) bool {
		return len(l) >= 2 && strings.HasPrefix(l[0], "sleeper") && l[len(l)-1] == "tend>"
	})
	p.tmux("send-keys", "-t", "repl", "-l", "sta")
	p.send("Tab", "Tab")
	p.waitFor("sta<TAB><TAB> to list start and status", "", func(l []string) bool {
		if len(l) < 2 || l[len(l)-1] != "tend> sta" {
			return false
		}
		f := strings.Fields(l[len(l)-2])
		return slices.Contains(f, "start") && slices.Contains(f, "status")
	})
	p.send("C-c")
	p.tmux("send-keys", "-t", "repl", "-l", "restart sle")
	p.send("Tab")
	p.waitFor("a process name to complete", "", lastLineIs("tend> restart sleeper"))
	p.send("C-c")
	p.waitFor("a fresh prompt", "", lastLineIs("tend>"))

	// A runaway chunk: Ctrl-C or the daemon's deadline cancels it, and the
	// daemon keeps supervising.
	p.typeLine("while true do end")
	p.waitFor("the loop to start", "", lastLineIs("tend> while true do end"))
	sent := time.Now()
	p.send("C-c")
	after := p.waitFor("the loop to be cancelled", "tend> while true do end", func(l []string) bool {
		return len(l) >= 2 && l[len(l)-1] == "tend>"
	})
	t.Logf("runaway chunk ended with %q %v after Ctrl-C was sent", after[:len(after)-1], time.Since(sent))
	p.typeLine("status")
	p.waitFor("status after the runaway chunk", "tend> status", func(l []string) bool {
		return len(l) >= 2 && strings.HasPrefix(l[0], "sleeper") && strings.Contains(l[0], "RUNNING") && l[len(l)-1] == "tend>"
	})

	t.Logf("pane:\n%s", strings.Join(p.lines(), "\n"))

	// Ctrl-D leaves with status 0.
	p.send("C-d")
	p.waitFor("the REPL to exit", "", func(l []string) bool {
		return slices.ContainsFunc(l, func(s string) bool { return strings.HasPrefix(s, "tend-repl-exit=") })
	})
	if !slices.Contains(p.lines(), "tend-repl-exit=0") {
		t.Errorf("tend repl did not exit 0 on Ctrl-D; pane:\n%s", strings.Join(p.lines(), "\n"))
	}

	// History went to $XDG_STATE_HOME/tend/history, chunks joined.
	b, err := os.ReadFile(filepath.Join(state, "tend", "history"))
	if err != nil {
		t.Fatal(err)
	}
	hist := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, want := range []string{"status", "1+1", "function sq(x) return x*x end", "sq(7)", "while true do end"} {
		if !slices.Contains(hist, want) {
			t.Errorf("history %q lacks %q", hist, want)
		}
	}
}
