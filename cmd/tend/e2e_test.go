package main

import (
	"bufio"
	"bytes"
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

const programs = `
program "app" { command = "sleep 1000", startsecs = 0 }
program "idle" { command = "sleep 1000", autostart = false }
program "web" { command = "sleep 1000", numprocs = 3, process_name = "%(program_name)s_%(process_num)02d", startsecs = 0 }
program "fails" { command = "sh -c 'exit 3'", startsecs = 1, startretries = 0 }
program "missing" { command = "/nonexistent/bin", autostart = false }
program "echoer" { command = "sh -c 'echo hello; exec sleep 1000'", startsecs = 0 }
`

// TestE2E_Commands runs every ctl command against a real daemon and checks
// supervisorctl's output and exit codes (reference section 8).
func TestE2E_Commands(t *testing.T) {
	d := startDaemon(t, programs)
	d.waitStatus("fails", "FATAL")
	d.waitStatus("app", "RUNNING")
	waitFor(t, "echoer output", func() bool { out, _ := d.ctl("tail", "echoer"); return out == "hello\n\n" })
	sock := "unix://" + filepath.Join(d.dir, "tend.sock")
	const running = `pid \d+, uptime \d:\d\d:\d\d`
	tests := []struct {
		args []string
		want string
		rc   int
	}{
		{[]string{"status", "app"}, `app {30}RUNNING   ` + running + "\n", 0},
		{[]string{"status"}, `app {30}RUNNING   .*echoer .*fails {28}FATAL     Exited too quickly \(process log may have details\)\nidle {29}STOPPED   Not started\nmissing .*web:web_00 .*web:web_02 {23}RUNNING   ` + running + "\n", 3},
		{[]string{"status", "web"}, "web: ERROR \\(no such process\\)\n", 4},
		{[]string{"status", "nogroup:*"}, "nogroup: ERROR \\(no such group\\)\n", 4},
		{[]string{"status", "web:*"}, `web:web_00 {23}RUNNING   ` + running + `\nweb:web_01 .*\nweb:web_02 .*\n`, 0},
		{[]string{"stop", "app"}, "app: stopped\n", 0},
		{[]string{"stop", "app"}, "app: ERROR \\(not running\\)\n", 0},
		{[]string{"status", "app"}, `app {30}STOPPED   \w{3} \d\d \d\d:\d\d [AP]M` + "\n", 3},
		{[]string{"start", "app"}, "app: started\n", 0},
		{[]string{"start", "app"}, "app: ERROR \\(already started\\)\n", 0},
		{[]string{"start", "nosuch"}, "nosuch: ERROR \\(no such process\\)\n", 1},
		{[]string{"stop", "web_00"}, "web_00: ERROR \\(no such process\\)\n", 1},
		{[]string{"start", "nogroup:*"}, "nogroup: ERROR \\(no such group\\)\n", 2},
		{[]string{"stop", "nogroup:*"}, "nogroup: ERROR \\(no such group\\)\n", 1},
		{[]string{"start"}, "Error: start requires a process name\n.*", 2},
		{[]string{"stop"}, "Error: stop requires a process name\n.*", 1},
		{[]string{"start", "missing"}, "missing: ERROR \\(no such file\\)\n", 1},
		{[]string{"start", "fails"}, "fails: ERROR \\(spawn error\\)\n", 7},
		{[]string{"restart", "web:*"}, "(web:web_0\\d: stopped\n){3}(web:web_0\\d: started\n){3}", 0},
		{[]string{"restart", "fails"}, "fails: ERROR \\(not running\\)\nfails: ERROR \\(spawn error\\)\n", 7},
		{[]string{"signal", "CONT", "app"}, "app: signalled\n", 0},
		{[]string{"signal", "18", "web:*"}, "(web:web_0\\d: signalled\n){3}", 0},
		{[]string{"signal", "CONT", "idle"}, "idle: ERROR \\(not running\\)\n", 7},
		{[]string{"signal", "BOGUS", "app"}, "app: ERROR \\(bad signal name\\)\n", 1},
		{[]string{"signal", "CONT", "nosuch"}, "nosuch: ERROR \\(no such process\\)\n", 1},
		{[]string{"pid"}, strconv.Itoa(d.cmd.Process.Pid) + "\n", 0},
		{[]string{"pid", "app"}, "[1-9]\\d*\n", 0},
		{[]string{"pid", "idle"}, "0\n", 7},
		{[]string{"pid", "nosuch"}, "No such process nosuch\n", 1},
		{[]string{"pid", "all"}, "([0-9]+\n){8}", 0},
		{[]string{"tail", "echoer"}, "hello\n\n", 0},
		{[]string{"tail", "-3", "echoer"}, "lo\n\n", 0},
		{[]string{"tail", "echoer", "stderr"}, "\n", 0},
		{[]string{"tail", "nosuch"}, "nosuch: ERROR \\(no such process name\\)\n", 1},
		{[]string{"tail", "idle"}, "idle: ERROR \\(no log file\\)\n", 1},
		{[]string{"tail", "echoer", "bogus"}, "Error: bad channel 'bogus'\n", 1},
		// As plain tail, not supervisorctl's URL and HTTP status.
		{[]string{"tail", "-f", "nosuch"}, "nosuch: ERROR \\(no such process name\\)\n", 1},
		{[]string{"tail", "-f", "idle"}, "idle: ERROR \\(no log file\\)\n", 1},
		{[]string{"clear", "echoer"}, "echoer: cleared\n", 0},
		{[]string{"clear", "nosuch"}, "nosuch: ERROR \\(no such process\\)\n", 1},
		{[]string{"maintail", "-30"}, ".{30}\n", 0},
		{[]string{"maintail", "x"}, "Error: bad argument x\n", 1},
		// Sorted by name as supervisorctl lists them, not in config order.
		{[]string{"avail"}, "app {30}in use    auto      999:999\necho.*\nfails.*\nidle {29}in use    manual    999:999\nmissing .*\nweb:web_00 .*", 0},
		{[]string{"version"}, regexp.QuoteMeta(tendVersion(t)) + "\n", 0},
		{[]string{"version", "x"}, "Error: version accepts no arguments\n.*", 1},
		{[]string{"bogus"}, "\\*\\*\\* Unknown syntax: bogus\n", 1},
		{[]string{"eval", "1+1"}, "2\n", 0},
		{[]string{"eval", "error('boom')"}, ".*boom.*", 1},
		{[]string{"eval", "print('before') error('boom')"}, "before\n.*boom.*", 1},
		{[]string{"reread"}, "No config updates to processes\n", 0},
		{[]string{"status", "-s", sock, "app"}, `app {30}RUNNING   ` + running + "\n", 0},
	}
	for _, tt := range tests {
		out, rc := d.ctl(tt.args...)
		check(t, tt.args, out, rc, tt.want, tt.rc)
	}
}

// TestE2E_TailFollow streams a log with tail -f and ends it with Ctrl-C.
func TestE2E_TailFollow(t *testing.T) {
	d := startDaemon(t, `program "ticker" { command = "sh -c 'echo start; exec sleep 1000'", startsecs = 0 }`)
	d.waitStatus("ticker", "RUNNING")
	cmd := exec.Command(tendBin, "-c", d.config, "tail", "-f", "ticker")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case l := <-lines:
			if l != want {
				t.Fatalf("tail -f line %q, want %q", l, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("tail -f: no line %q", want)
		}
	}
	expect("==> Press Ctrl-C to exit <==")
	expect("start")
	// New output while following: a restart writes "start" again.
	if out, rc := d.ctl("restart", "ticker"); rc != 0 {
		t.Fatalf("restart: %d %s", rc, out)
	}
	expect("start")
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tail -f after Ctrl-C: %v", err)
	}
}

// TestE2E_RereadUpdate changes the config and checks the plan, the update,
// and that a broken config changes nothing.
func TestE2E_RereadUpdate(t *testing.T) {
	d := startDaemon(t, `
program "a" { command = "sleep 1000", startsecs = 0 }
program "b" { command = "sleep 1000", startsecs = 0 }
program "keep" { command = "sleep 1000", startsecs = 0 }
program "web" { command = "sleep 1000", numprocs = 2, process_name = "%(program_name)s_%(process_num)d", startsecs = 0 }
`)
	d.waitStatus("keep", "RUNNING")
	d.waitStatus("web:web_1", "RUNNING")
	keepPid, web0Pid := d.pidOf("keep"), d.pidOf("web:web_0")
	d.writeConfig(`
program "b" { command = "sleep 999", startsecs = 0 }
program "keep" { command = "sleep 1000", startsecs = 0 }
program "web" { command = "sleep 1000", numprocs = 3, process_name = "%(program_name)s_%(process_num)d", startsecs = 0 }
program "c" { command = "sleep 1000", startsecs = 0 }
program "d" { command = "sleep 1000", startsecs = 0 }
group "grp" { programs = { "c", "d" } }
`)
	out, rc := d.ctl("reread")
	check(t, []string{"reread"}, out, rc, "a: disappeared\nb: changed\ngrp: available\nweb: changed\n"+
		"  a: processes gone a\n  b: b changed \\(command\\)\n  grp: new processes grp:c, grp:d\n  web: scaled: adds web:web_2\n", 0)
	out, rc = d.ctl("update", "nosuch")
	check(t, []string{"update", "nosuch"}, out, rc, "ERROR: no such group: nosuch\n", 1)
	out, rc = d.ctl("update")
	check(t, []string{"update"}, out, rc, "a: stopped\na: removed process group\nb: stopped\nb: updated process group\n"+
		"web: updated process group\ngrp: added process group\n", 0)
	d.waitStatus("grp:d", "RUNNING")
	if d.pidOf("keep") != keepPid || d.pidOf("web:web_0") != web0Pid {
		t.Errorf("update touched unchanged processes")
	}
	out, rc = d.ctl("reread")
	check(t, []string{"reread"}, out, rc, "No config updates to processes\n", 0)

	// Lowering numprocs stops only the instance that goes away.
	d.writeConfig(`
program "b" { command = "sleep 999", startsecs = 0 }
program "keep" { command = "sleep 1000", startsecs = 0 }
program "web" { command = "sleep 1000", numprocs = 2, process_name = "%(program_name)s_%(process_num)d", startsecs = 0 }
program "c" { command = "sleep 1000", startsecs = 0 }
program "d" { command = "sleep 1000", startsecs = 0 }
group "grp" { programs = { "c", "d" } }
`)
	out, rc = d.ctl("update")
	check(t, []string{"update"}, out, rc, "web:web_2: stopped\nweb: updated process group\n", 0)
	if d.pidOf("web:web_0") != web0Pid {
		t.Errorf("lowering numprocs touched web:web_0")
	}

	// A broken config: every command reports it with file:line and nothing changes.
	before, _ := d.ctl("status")
	d.writeConfig(`program "keep" { command = "sleep 1000", startsecs = "x" }`)
	for _, cmd := range []string{"reread", "update", "reload"} {
		out, rc := d.ctl(cmd)
		check(t, []string{cmd}, out, rc, "ERROR: .*tend.lua:\\d+: .*startsecs.*\n", 1)
	}
	d.writeConfig(`program "keep" { command = "sleep 1000", bogus_option = 1 }`)
	out, rc = d.ctl("update")
	check(t, []string{"update"}, out, rc, "ERROR: .*tend.lua:\\d+: .*bogus_option.*\n", 1)
	d.writeConfig(`program "keep" { command = "sleep 1000" `)
	out, rc = d.ctl("update")
	check(t, []string{"update"}, out, rc, "ERROR: .*tend.lua.*\n", 1)
	after, _ := d.ctl("status")
	if strip(before) != strip(after) {
		t.Errorf("a bad config changed the processes:\n%s\n---\n%s", before, after)
	}
}

// strip drops uptimes from status output so two snapshots compare.
func strip(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, ", uptime"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestE2E_Scale adds and removes instances without touching the others.
func TestE2E_Scale(t *testing.T) {
	d := startDaemon(t, `program "w" { command = "sleep 1000", numprocs = 2, process_name = "w_%(process_num)d", startsecs = 0 }`)
	d.waitStatus("w:w_1", "RUNNING")
	p0, p1 := d.pidOf("w:w_0"), d.pidOf("w:w_1")
	out, rc := d.ctl("scale", "w", "4")
	check(t, []string{"scale", "w", "4"}, out, rc, "w:w_2: added\nw:w_3: added\n", 0)
	d.waitStatus("w:w_3", "RUNNING")
	out, rc = d.ctl("scale", "w", "1")
	check(t, []string{"scale", "w", "1"}, out, rc, "w:w_1: removed\nw:w_2: removed\nw:w_3: removed\n", 0)
	if d.pidOf("w:w_0") != p0 {
		t.Errorf("scale touched w_0")
	}
	out, rc = d.ctl("status")
	check(t, []string{"status"}, out, rc, "w:w_0 {28}RUNNING   pid "+p0+", .*\n", 0)
	out, rc = d.ctl("scale", "nosuch", "2")
	check(t, []string{"scale", "nosuch", "2"}, out, rc, "ERROR: .*nosuch.*\n", 1)
	out, rc = d.ctl("scale", "w")
	check(t, []string{"scale", "w"}, out, rc, "Error: scale requires .*", 2)
	_ = p1
}

// TestE2E_Signals checks SIGHUP (reload), SIGUSR2 (reopen logs) and
// SIGTERM (shutdown in descending priority).
func TestE2E_Signals(t *testing.T) {
	d := startDaemon(t, `
program "low" { command = "sleep 1000", startsecs = 0, priority = 100 }
program "high" { command = "sleep 1000", startsecs = 0, priority = 200 }
`)
	d.waitStatus("high", "RUNNING")
	oldPid := d.pidOf("low")
	daemonPid := strconv.Itoa(d.cmd.Process.Pid)

	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload after SIGHUP", func() bool {
		p := d.pidOf("low")
		return p != oldPid && p != "0" && strings.Count(d.log(), "tend started with pid "+daemonPid+" ") == 2
	})
	if !strings.Contains(d.log(), "WARN received SIGHUP indicating restart request") {
		t.Errorf("no SIGHUP line in the log:\n%s", d.log())
	}
	if p, _ := d.ctl("pid"); strings.TrimSpace(p) != daemonPid {
		t.Errorf("reload changed the daemon pid: %s", p)
	}

	logPath := filepath.Join(d.dir, "tend.log")
	if err := os.Rename(logPath, logPath+".old"); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGUSR2)
	waitFor(t, "log reopened", func() bool { _, err := os.Stat(logPath); return err == nil })
	d.ctl("stop", "low")
	waitFor(t, "new log written", func() bool { return strings.Contains(d.log(), "stopped: low") })
	old, _ := os.ReadFile(logPath + ".old")
	if !strings.Contains(string(old), "received SIGUSR2 indicating log reopen request") {
		t.Errorf("no SIGUSR2 line in the old log")
	}
	d.ctl("start", "low")
	d.waitStatus("low", "RUNNING")

	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not exit on SIGTERM")
	}
	log := d.log()
	hi, lo := strings.LastIndex(log, "stopped: high"), strings.LastIndex(log, "stopped: low")
	if hi < 0 || lo < 0 || hi > lo {
		t.Errorf("shutdown order wrong (high must stop before low):\n%s", log)
	}
	if !strings.Contains(log, "WARN received SIGTERM indicating exit request") {
		t.Errorf("no SIGTERM line")
	}
	if _, err := os.Stat(filepath.Join(d.dir, "tend.sock")); err == nil {
		t.Errorf("socket left behind")
	}
}

// TestE2E_DetachAndSocket checks --detach with its pidfile, the refusal to
// start on a live socket, and the removal of a stale one.
func TestE2E_DetachAndSocket(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "tend.lua")
	os.WriteFile(config, []byte(configText(dir, "", `program "app" { command = "sleep 1000", startsecs = 0 }`)), 0o644)
	sock := filepath.Join(dir, "tend.sock")
	// A stale socket: a socket file nobody listens on.
	if out, err := exec.Command("python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", sock).CombinedOutput(); err != nil {
		t.Skipf("cannot make a stale socket with python3: %v %s", err, out)
	}
	out, rc := runTend(t, "daemon", "--detach", "-c", config)
	if rc != 0 {
		t.Fatalf("daemon --detach: rc %d %s", rc, out)
	}
	pidText, err := os.ReadFile(filepath.Join(dir, "tend.pid"))
	if err != nil {
		t.Fatalf("pidfile: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if out, _ := runTend(t, "-c", config, "pid"); strings.TrimSpace(out) != strconv.Itoa(pid) {
		t.Fatalf("pid %q, pidfile %d", out, pid)
	}
	if sid, _ := syscall.Getpgid(pid); sid != pid {
		t.Errorf("detached daemon is not a group/session leader: pgid %d", sid)
	}
	out, rc = runTend(t, "daemon", "-c", config)
	check(t, []string{"daemon"}, out, rc, "Error: Another program \\(pid "+strconv.Itoa(pid)+"\\) is already listening on "+
		regexp.QuoteMeta(sock)+"\\. Shut it down first \\(tend -s unix://"+regexp.QuoteMeta(sock)+" shutdown\\) before starting tend\\.\n", 1)
	out, rc = runTend(t, "-c", config, "shutdown")
	check(t, []string{"shutdown"}, out, rc, "Shut down\n", 0)
	waitFor(t, "pidfile removed", func() bool { _, err := os.Stat(filepath.Join(dir, "tend.pid")); return err != nil })
	out, rc = runTend(t, "-c", config, "status")
	check(t, []string{"status"}, out, rc, "unix://"+sock+" no such file\n"+
		"No tend daemon is running there. Start one with: tend daemon -c "+regexp.QuoteMeta(config)+" --detach\n", 4)
}

// TestE2E_HTTPAuth talks to the TCP listener with and without credentials.
func TestE2E_HTTPAuth(t *testing.T) {
	port := testkit.FreePort(t)
	d := startDaemonWith(t, `http = { listen = "127.0.0.1:`+strconv.Itoa(port)+`", username = "user", password = "123" }`,
		`program "app" { command = "sleep 1000", startsecs = 0 }`)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	out, rc := runTend(t, "-s", url, "version")
	check(t, []string{"version"}, out, rc, "Server requires authentication\n", 1)
	out, rc = runTend(t, "-s", url, "-u", "user", "-p", "wrong", "status")
	check(t, []string{"status"}, out, rc, "Server requires authentication\n", 4)
	out, rc = runTend(t, "-s", url, "-u", "user", "-p", "123", "version")
	check(t, []string{"version"}, out, rc, regexp.QuoteMeta(tendVersion(t))+"\n", 0)
	out, rc = runTend(t, "version", "-s", url, "-u", "user", "-p", "123")
	check(t, []string{"version", "-s"}, out, rc, regexp.QuoteMeta(tendVersion(t))+"\n", 0)
	_ = d
}

// TestE2E_CheckInitImport covers the config tools.
func TestE2E_CheckInitImport(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.lua")
	os.WriteFile(good, []byte(`program "app" { command = "sleep 1000" }`), 0o644)
	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(bad, []byte("\n\nprogram \"app\" { command = \"sleep 1\", startsecs = \"x\" }\n"), 0o644)
	out, rc := runTend(t, "check", "-c", good)
	if rc != 0 || !strings.Contains(out, "app") {
		t.Errorf("check good: rc %d %s", rc, out)
	}
	out, rc = runTend(t, "check", "-c", bad)
	check(t, []string{"check", "bad"}, out, rc, ".*bad.lua:3: .*startsecs.*\n", 1)
	deps := filepath.Join(dir, "deps.lua")
	os.WriteFile(deps, []byte(`program "web" { command = "sleep 1000", requires = { db = "ready" } }
program "db" { command = "sleep 1000", ready = { tcp = "127.0.0.1:5432" } }
`), 0o644)
	out, rc = runTend(t, "check", "-c", deps)
	check(t, []string{"check", "deps"}, out, rc, `.*\nstart order [^\n]*\n   1  db\n   2  web  after db \(ready\)\n`, 0)
	cycle := filepath.Join(dir, "cycle.lua")
	os.WriteFile(cycle, []byte("program \"a\" { command = \"x\", requires = { \"b\" } }\nprogram \"b\" {\n  command = \"x\",\n  requires = { \"a\" },\n}\n"), 0o644)
	out, rc = runTend(t, "check", "-c", cycle)
	check(t, []string{"check", "cycle"}, out, rc, `.*cycle.lua:1: program "a": requires: cycle: a -> b -> a\n`, 1)
	out, rc = runTend(t, "init")
	if rc != 0 || len(out) < 100 {
		t.Fatalf("init: rc %d, %d bytes", rc, len(out))
	}
	sample := filepath.Join(dir, "sample.lua")
	os.WriteFile(sample, []byte(out), 0o644)
	if out, rc := runTend(t, "check", "-c", sample); rc != 0 {
		t.Errorf("check of the init sample: rc %d %s", rc, out)
	}
}

// runTendSplit runs the tend binary and returns stdout, stderr and the
// exit code separately (tend import writes the config on stdout only).
func runTendSplit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tendBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("tend %v: %v", args, err)
		}
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// TestE2E_Import migrates a supervisord.conf the way the README says:
// tend import FILE > tend.lua && tend check -c tend.lua.
func TestE2E_Import(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	os.WriteFile(conf, []byte(`; migrated by the e2e test
[unix_http_server]
file=%(here)s/tend.sock

[supervisord]
logfile=%(here)s/supervisord.log
nodaemon=true

[program:web]
command=/bin/sh -c "exec sleep 1000"
process_name=%(program_name)s_%(process_num)d
numprocs=2
environment=PORT="80%(process_num)02d",
    MODE=prod
stdout_logfile_maxbytes=1MB
colour=blue

[eventlistener:mem]
command=memmon -a 200MB
events=TICK_60

[group:site]
programs=web
priority=5
`), 0o644)
	lua, errs, rc := runTendSplit(t, "import", conf)
	if rc != 0 {
		t.Fatalf("import: rc %d\n%s", rc, errs)
	}
	for _, w := range []string{conf + `:16: [program:web]: unknown option "colour"`} {
		if !strings.Contains(errs, "Warning: "+w) {
			t.Errorf("stderr lacks warning %q:\n%s", w, errs)
		}
	}
	out := filepath.Join(dir, "tend.lua")
	os.WriteFile(out, []byte(lua), 0o644)
	got, rc := runTend(t, "check", "-c", out)
	check(t, []string{"check", "imported"}, got, rc, `.*: 3 processes\n\nsite:web_0 .*environment  .*PORT=8000.*\nsite:web_1 .*PORT=8001.*\nmem .*events +TICK_60 buffer_size=10 .*`, 0)

	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("[program:x]\ncommand=/bin/true\nnot an option\n"), 0o644)
	lua, errs, rc = runTendSplit(t, "import", bad)
	if rc != 2 || lua != "" || errs != "Error: "+bad+`:3: in [program:x]: not a section, an option (key = value) or a comment: "not an option"`+"\n" {
		t.Errorf("import of a malformed file: rc %d, stdout %q, stderr %q", rc, lua, errs)
	}
	_, errs, rc = runTendSplit(t, "import", filepath.Join(dir, "missing.conf"))
	if rc != 2 || !strings.HasPrefix(errs, "Error: read supervisord config: open ") {
		t.Errorf("import of a missing file: rc %d, stderr %q", rc, errs)
	}
	_, errs, rc = runTendSplit(t, "import")
	if rc != 2 || !strings.Contains(errs, "import requires one argument") {
		t.Errorf("import without a file: rc %d, stderr %q", rc, errs)
	}
}

// TestE2E_EventListener runs a shell event listener in a real daemon: tend
// status lists it like any process, tend check shows its subscription, and
// it receives the daemon's and a program's events in supervisord's format.
func TestE2E_EventListener(t *testing.T) {
	d := startDaemon(t, `
program "app" { command = "sleep 1000", startsecs = 0 }
eventlistener "mon" {
  command = { "/bin/sh", "-c", [[
    while echo READY && IFS= read -r h; do
      { echo "$h"; head -c "${h##*len:}"; echo; } >&2
      printf 'RESULT 2\nOK'
    done]] },
  events = { "PROCESS_STATE_RUNNING", "SUPERVISOR_STATE_CHANGE" }, startsecs = 0,
  stderr_logfile = "`+"%(here)s"+`/mon.events",
}`)
	d.waitStatus("mon", "RUNNING")
	d.waitStatus("app", "RUNNING")
	out, rc := d.ctl("status")
	check(t, []string{"status"}, out, rc, `app {30}RUNNING   pid \d+, .*\nmon {30}RUNNING   pid \d+, .*\n`, 0)
	out, rc = d.ctl("check")
	check(t, []string{"check"}, out, rc, `(?s).*\n  events       PROCESS_STATE_RUNNING,SUPERVISOR_STATE_CHANGE buffer_size=10 .*`, 0)
	pid := d.pidOf("app")
	events := filepath.Join(d.dir, "mon.events")
	waitFor(t, "the listener to get app's RUNNING event", func() bool {
		b, _ := os.ReadFile(events)
		return strings.Contains(string(b), "eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0\n") &&
			strings.Contains(string(b), " pool:mon poolserial:") &&
			strings.Contains(string(b), "eventname:PROCESS_STATE_RUNNING len:")
	})
	b, _ := os.ReadFile(events)
	if want := "processname:app groupname:app from_state:STARTING pid:" + pid + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("listener log lacks %q:\n%s", want, b)
	}
}

// TestE2E_CheckWarns: tend check warns on stderr, with file:line, about
// what this machine lacks and an include that matches nothing, lists the
// files it included, and still exits 0.
func TestE2E_CheckWarns(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tend.lua")
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf.d", "a.lua"), []byte(`program "a" { command = "sleep 1" }`), 0o644)
	os.WriteFile(cfg, []byte("include \"conf.d/*.lua\"\ninclude \"none.d/*.lua\"\nprogram \"x\" {\n  command = \"tend-no-such-cmd\",\n  directory = \"/nonexistent-tend\",\n}\n"), 0o644)
	out, errs, rc := runTendSplit(t, "check", "-c", cfg)
	if rc != 0 {
		t.Fatalf("rc %d, stderr %s", rc, errs)
	}
	for _, w := range []string{
		"Warning: " + cfg + `:2: include: no file matches "` + dir + `/none.d/*.lua"`,
		"Warning: " + cfg + `:4: program "x": command: can't find command 'tend-no-such-cmd'`,
		"Warning: " + cfg + `:5: program "x": directory /nonexistent-tend does not exist`,
	} {
		if !strings.Contains(errs, w+"\n") {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	if !strings.Contains(out, "included "+filepath.Join(dir, "conf.d", "a.lua")+"\n") {
		t.Errorf("stdout does not list the included file:\n%s", out)
	}
}
