package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tendVersion returns what `tend --version` prints, checking that it is
// tend's own version and not supervisord's.
func tendVersion(t *testing.T) string {
	t.Helper()
	out, rc := runTend(t, "--version")
	v := strings.TrimSpace(out)
	if rc != 0 || v == "" || strings.Contains(out, "4.2.5") || strings.Count(out, "\n") != 1 {
		t.Fatalf("tend --version: rc %d %q", rc, out)
	}
	return v
}

// TestE2E_Version: tend --version and tend version print tend's version,
// a build stamped with -ldflags -X prints the stamp, the importer's
// header names it, and supervisorctl still reads supervisord's 4.2.5.
func TestE2E_Version(t *testing.T) {
	v := tendVersion(t)
	d := startDaemon(t, `program "app" { command = "sleep 1000", startsecs = 0 }`)
	out, rc := d.ctl("version")
	check(t, []string{"version"}, out, rc, regexp.QuoteMeta(v)+"\n", 0)
	if !strings.Contains(d.log(), "tend started with pid ") || strings.Contains(d.log(), "supervisord started") {
		t.Errorf("start line does not name tend:\n%s", d.log())
	}

	conf := filepath.Join(t.TempDir(), "supervisord.conf")
	os.WriteFile(conf, []byte("[program:a]\ncommand=sleep 1\n"), 0o644)
	lua, _, rc := runTendSplit(t, "import", conf)
	if first, _, _ := strings.Cut(lua, "\n"); rc != 0 || !strings.HasSuffix(first, "(tend "+v+").") || strings.Contains(first, "4.2.5") {
		t.Errorf("import header %q (rc %d), want tend %s", first, rc, v)
	}

	if sctl, err := exec.LookPath("supervisorctl"); err == nil {
		out, err := exec.Command(sctl, "-s", "unix://"+filepath.Join(d.dir, "tend.sock"), "version").CombinedOutput()
		if string(out) != "4.2.5\n" || err != nil {
			t.Errorf("supervisorctl version: %q %v", out, err)
		}
	} else {
		t.Log("supervisorctl not installed: its version against tend not checked")
	}

	stamped := filepath.Join(t.TempDir(), "tend")
	build := exec.Command("go", "build", "-o", stamped, "-ldflags", "-X github.com/tend-sh/tend/version.stamped=9.9.9-test", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("stamped build: %v\n%s", err, out)
	}
	if out, err := exec.Command(stamped, "--version").Output(); string(out) != "9.9.9-test\n" || err != nil {
		t.Errorf("stamped tend --version: %q %v", out, err)
	}
}

// TestE2E_AddRemove: supervisorctl's add and remove, texts and exit codes
// as it prints them against supervisord 4.2.5.
func TestE2E_AddRemove(t *testing.T) {
	d := startDaemon(t, `program "app" { command = "sleep 1000", startsecs = 0 }`)
	d.waitStatus("app", "RUNNING")
	d.writeConfig(`local log = require "log"
program "app" { command = "sleep 1000", startsecs = 0 }
program "extra" { command = "sleep 1000", startsecs = 0, on_start = function(p) log.info("on_start ran for " .. p.name) end }
program "other" { command = "sleep 1000", startsecs = 0, on_start = function(p) log.info("on_start ran for " .. p.name) end }`)
	steps := []struct {
		args []string
		want string
		rc   int
	}{
		{[]string{"add"}, "", 0},
		{[]string{"reread"}, "extra: available\nother: available\n.*", 0},
		{[]string{"add", "extra"}, "extra: added process group\n", 0},
		{[]string{"status", "extra"}, "extra .*RUNNING.*\n", 0},
		{[]string{"add", "extra"}, "ERROR: process group already active\n", 0},
		{[]string{"add", "nosuch", "extra"}, "ERROR: no such process/group: nosuch\nERROR: process group already active\n", 1},
		{[]string{"remove", "extra"}, "ERROR: process/group still running: extra\n", 1},
		{[]string{"remove", "nosuch"}, "ERROR: no such process/group: nosuch\n", 1},
		{[]string{"stop", "extra"}, "extra: stopped\n", 0},
		{[]string{"remove", "extra"}, "extra: removed process group\n", 0},
		{[]string{"status", "extra"}, "extra: ERROR \\(no such process\\)\n", 4},
		{[]string{"help", "add"}, "add <name> \\[...\\]\tActivates any updates in config for process/group\n", 0},
		{[]string{"add", "extra"}, "extra: added process group\n", 0},
	}
	for _, s := range steps {
		out, rc := d.ctl(s.args...)
		check(t, s.args, out, rc, s.want, s.rc)
	}
	// An added group's hooks run: the daemon knows which Lua state they
	// belong to (checked on a restart, after the add has settled).
	hookRuns := func(name string) {
		t.Helper()
		before := strings.Count(d.log(), "on_start ran for "+name)
		if out, rc := d.ctl("restart", name); rc != 0 {
			t.Fatalf("restart %s: %d %s", name, rc, out)
		}
		waitFor(t, "on_start hook of "+name, func() bool { return strings.Count(d.log(), "on_start ran for "+name) > before })
	}
	hookRuns("extra")

	// supervisorctl's add (XML-RPC addProcessGroup) does the same.
	sctl, err := exec.LookPath("supervisorctl")
	if err != nil {
		t.Skip("supervisorctl not installed: its add against tend not checked")
	}
	out, err := exec.Command(sctl, "-s", "unix://"+filepath.Join(d.dir, "tend.sock"), "add", "other").CombinedOutput()
	if string(out) != "other: added process group\n" || err != nil {
		t.Fatalf("supervisorctl add other: %q %v", out, err)
	}
	hookRuns("other")
}

// TestE2E_Fg attaches to a process: its output shows, input lines reach
// its stdin, the end of input leaves, and a process that died is said
// so after the next line.
func TestE2E_Fg(t *testing.T) {
	d := startDaemon(t, `program "cat" { command = "cat", startsecs = 0 }
program "idle" { command = "sleep 1000", autostart = false }`)
	d.waitStatus("cat", "RUNNING")
	for _, s := range []struct {
		args []string
		want string
		rc   int
	}{
		{[]string{"fg"}, "ERROR: no process name supplied\nfg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit\n", 1},
		{[]string{"fg", "cat", "idle"}, "ERROR: too many process names supplied\n", 1},
		{[]string{"fg", "nosuch"}, "ERROR: bad process name supplied\n", 1},
		{[]string{"fg", "cat:*"}, "ERROR: bad process name supplied\n", 1},
		{[]string{"fg", "idle"}, "ERROR: process not running\n", 1},
	} {
		out, rc := d.ctl(s.args...)
		check(t, s.args, out, rc, s.want, s.rc)
	}

	fg := func() (io.WriteCloser, <-chan string, *exec.Cmd) {
		cmd := exec.Command(tendBin, "-c", d.config, "fg", "cat")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		return in, lines, cmd
	}
	expect := func(lines <-chan string, want string) {
		t.Helper()
		select {
		case l := <-lines:
			if l != want {
				t.Fatalf("fg line %q, want %q", l, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("fg: no line %q", want)
		}
	}

	in, lines, cmd := fg()
	expect(lines, "==> Press Ctrl-C to exit <==")
	io.WriteString(in, "ping\n")
	expect(lines, "ping")
	in.Close()
	expect(lines, "Exiting foreground")
	if err := cmd.Wait(); err != nil {
		t.Errorf("fg after the end of input: %v", err)
	}

	in, lines, cmd = fg()
	expect(lines, "==> Press Ctrl-C to exit <==")
	expect(lines, "ping") // the log's last kilobyte, as supervisorctl's fg shows it
	if out, rc := d.ctl("stop", "cat"); rc != 0 {
		t.Fatalf("stop cat: %d %s", rc, out)
	}
	io.WriteString(in, "pong\n")
	expect(lines, "Process got killed")
	expect(lines, "Exiting foreground")
	if err := cmd.Wait(); err != nil {
		t.Errorf("fg after the process died: %v", err)
	}
}

// TestE2E_Completion: each shell's script parses, names come from the
// running daemon, and the hidden command is silent with no daemon.
func TestE2E_Completion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		script, stderr, rc := runTendSplit(t, "completion", sh)
		if rc != 0 || stderr != "" || !strings.Contains(script, "__complete") {
			t.Fatalf("completion %s: rc %d %s", sh, rc, stderr)
		}
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s not installed: its completion script's syntax is not checked", sh)
			continue
		}
		file := filepath.Join(t.TempDir(), "tend."+sh)
		os.WriteFile(file, []byte(script), 0o644)
		if out, err := exec.Command(path, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n of its completion script: %v\n%s", sh, err, out)
		}
	}
	out, rc := runTend(t, "completion", "csh")
	check(t, []string{"completion", "csh"}, out, rc, "Error: no completion for shell \"csh\".*\n", 2)

	// No daemon: nothing, exit 0, whatever the line.
	none := filepath.Join(t.TempDir(), "none.lua")
	os.WriteFile(none, []byte(configText(filepath.Dir(none), "", "")), 0o644)
	for _, args := range [][]string{
		{"__complete", "names", "-c", none, "status"},
		{"__complete", "groups", "-c", none},
		{"__complete", "names", "-c"},
		{"__complete", "names", "-s", "bogus://x"},
		{"__complete", "bogus"},
		{"__complete"},
	} {
		out, rc := runTend(t, args...)
		check(t, args, out, rc, "", 0)
	}

	// A daemon that accepts and never answers: the hidden command gives up
	// on its own (it would hang the test otherwise), silently.
	hung := filepath.Join(t.TempDir(), "hung.sock")
	ln, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	out, rc = runTend(t, "__complete", "names", "-s", "unix://"+hung)
	check(t, []string{"__complete", "names", "-s", "hung"}, out, rc, "", 0)

	d := startDaemon(t, `program "app" { command = "sleep 1000", startsecs = 0 }
program "web" { command = "sleep 1000", numprocs = 2, process_name = "%(program_name)s_%(process_num)02d", startsecs = 0 }`)
	out, rc = runTend(t, "__complete", "names", "-c", d.config, "status")
	check(t, []string{"__complete", "names"}, out, rc, "app\nweb:web_00\nweb:web_01\napp:\\*\nweb:\\*\n", 0)
	out, rc = runTend(t, "__complete", "groups", "--config="+d.config)
	check(t, []string{"__complete", "groups"}, out, rc, "app\nweb\n", 0)

	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed: completion not run")
	}
	script, _, _ := runTendSplit(t, "completion", "bash")
	file := filepath.Join(t.TempDir(), "tend.bash")
	os.WriteFile(file, []byte(script), 0o644)
	for _, tt := range []struct{ line, want string }{
		{"tend sta", "status start"},
		{"tend -c " + d.config + " stop web:", "web_00 web_01 *"},
		{"tend -c " + d.config + " restart a", "app app:*"},
		{"tend -c " + d.config + " add w", "web"},
		{"tend help ver", "version"},
		{"tend tail -", "-f"},
		{"tend completion ", "bash zsh fish"},
	} {
		line := strings.Replace(tt.line, "tend", tendBin, 1)
		prog := `source "$1"; COMP_LINE="$2"; COMP_POINT=${#2}; _tend; echo "${COMPREPLY[*]}"`
		out, err := exec.Command("bash", "-c", prog, "bash", file, line).CombinedOutput()
		if got := strings.TrimSpace(string(out)); got != tt.want || err != nil {
			t.Errorf("bash completion of %q: %q %v, want %q", tt.line, got, err, tt.want)
		}
	}
}

// TestSystemdUnit checks scripts/tend.service with systemd-analyze verify
// (which reports a bad line on stderr, even with exit status 0), with its
// binary path pointed at the test's tend.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: scripts/tend.service not verified")
	}
	unit, err := os.ReadFile("../../scripts/tend.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nType=notify\n") {
		t.Fatalf("unit is not Type=notify (tend speaks sd_notify):\n%s", unit)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/tend daemon -c /etc/tend/tend.lua\n") {
		t.Fatalf("unit does not run the installed tend on /etc/tend/tend.lua:\n%s", unit)
	}
	file := filepath.Join(t.TempDir(), "tend.service")
	os.WriteFile(file, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/tend", tendBin)), 0o644)
	out, err := exec.Command(analyze, "verify", file).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
