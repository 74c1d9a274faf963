package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/internal/testkit"
)

// dropinConf is a supervisord.conf as supervisord users write them: the
// server sections, [supervisorctl], an [include] and a [group].
const dropinConf = `; written for supervisord
[unix_http_server]
file=%(here)s/s.sock
chmod=0700

[supervisord]
logfile=%(here)s/sd.log
pidfile=%(here)s/sd.pid
childlogdir=%(here)s
nodaemon=false

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/s.sock

[include]
files = conf.d/*.ini

[program:app]
command=sleep 1000
startsecs=0

[group:grp]
programs=w
`

// dropinWorker is the included file: %(here)s is its own folder.
const dropinWorker = `[program:w]
command=/bin/sh -c "echo here=%(here)s; exec sleep 1000"
process_name=%(program_name)s_%(process_num)d
numprocs=2
startsecs=0
`

// dropinDir is a folder with tend installed as supervisord and supervisorctl
// (symlinks to the test binary) and a supervisord config.
type dropinDir struct {
	t    *testing.T
	dir  string // the config's folder
	conf string
}

func newDropin(t *testing.T) *dropinDir {
	t.Helper()
	dir := testkit.ShortTempDir(t)
	for _, name := range []string{"supervisord", "supervisorctl"} {
		if err := os.Symlink(tendBin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &dropinDir{t: t, dir: dir, conf: filepath.Join(dir, "supervisord.conf")}
	d.write("supervisord.conf", dropinConf)
	d.write("conf.d/w.ini", dropinWorker)
	return d
}

func (d *dropinDir) write(name, text string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// run runs one of the personalities from another folder (so that only
// -c finds the config) and returns stdout+stderr and the exit code.
func (d *dropinDir) run(name string, args ...string) (string, int) {
	d.t.Helper()
	cmd := exec.Command(filepath.Join(d.dir, name), args...)
	cmd.Dir = d.t.TempDir()
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		d.t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func (d *dropinDir) ctl(args ...string) (string, int) {
	d.t.Helper()
	return d.run("supervisorctl", append([]string{"-c", d.conf}, args...)...)
}

// start runs `supervisord -c CONF`, which must daemonize: it returns once
// the daemon serves. The daemon is killed at the end of the test.
func (d *dropinDir) start() int {
	d.t.Helper()
	out, rc := d.run("supervisord", "-c", d.conf)
	if rc != 0 {
		d.t.Fatalf("supervisord -c: rc %d: %s", rc, out)
	}
	text, err := os.ReadFile(filepath.Join(d.dir, "sd.pid"))
	if err != nil {
		d.t.Fatalf("supervisord returned without a pidfile: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(text)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		if syscall.Kill(pid, syscall.SIGTERM) == nil {
			testkit.WaitFor(d.t, "daemon gone", 30*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
		}
	})
	return pid
}

func (d *dropinDir) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "sd.log"))
	return string(b)
}

// TestE2E_DropIn runs a supervisord.conf with tend installed as
// supervisord and supervisorctl: daemonizing, supervisorctl's commands and
// exit codes, %(here)s of an included file, SIGHUP re-reading the INI, and
// errors located in the INI.
func TestE2E_DropIn(t *testing.T) {
	d := newDropin(t)
	pid := d.start()
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("supervisord -c did not daemonize: sid %d, pid %d", sid, pid)
	}
	waitFor(t, "all running", func() bool { _, rc := d.ctl("status"); return rc == 0 })
	const running = `RUNNING   pid \d+, uptime \d:\d\d:\d\d`
	tests := []struct {
		args []string
		want string
		rc   int
	}{
		{[]string{"status"}, `app {30}` + running + `\ngrp:w_0 {26}` + running + `\ngrp:w_1 {26}` + running + "\n", 0},
		{[]string{"stop", "grp:w_0"}, "grp:w_0: stopped\n", 0},
		{[]string{"status", "grp:w_0"}, `grp:w_0 {26}STOPPED .*\n`, 3},
		{[]string{"start", "grp:*"}, "grp:w_0: started\n", 0},
		{[]string{"stop", "nosuch"}, "nosuch: ERROR \\(no such process\\)\n", 1},
		{[]string{"status", "w"}, "w: ERROR \\(no such process\\)\n", 4},
		{[]string{"tail", "grp:w_1"}, "here=" + regexp.QuoteMeta(filepath.Join(d.dir, "conf.d")) + "\n\n", 0},
	}
	for _, tt := range tests {
		out, rc := d.ctl(tt.args...)
		check(t, append([]string{"supervisorctl"}, tt.args...), out, rc, tt.want, tt.rc)
	}
	// Debian's supervisorctl reads the same [supervisorctl] and gets the
	// same answers and exit codes from tend.
	if real, err := exec.LookPath("/usr/bin/supervisorctl"); err == nil {
		for _, tt := range []struct {
			args []string
			want string
			rc   int
		}{
			{[]string{"status", "app"}, `app {30}` + running + "\n", 0},
			{[]string{"stop", "nosuch"}, "nosuch: ERROR \\(no such process\\)\n", 1},
			{[]string{"status", "w"}, "w: ERROR \\(no such process\\)\n", 4},
		} {
			out, err := exec.Command(real, append([]string{"-c", d.conf}, tt.args...)...).CombinedOutput()
			check(t, append([]string{real}, tt.args...), string(out), exitCode(err), tt.want, tt.rc)
		}
	}
	if n := strings.Count(d.log(), "tend import "+d.conf); n != 1 {
		t.Errorf("the log names tend import %d times, want once:\n%s", n, d.log())
	}

	// SIGHUP re-reads the INI, include files too.
	d.write("conf.d/w.ini", dropinWorker+"\n[program:extra]\ncommand=sleep 1000\nstartsecs=0\n")
	syscall.Kill(pid, syscall.SIGHUP)
	waitFor(t, "extra running after SIGHUP", func() bool {
		out, _ := d.ctl("status", "extra")
		return strings.Contains(out, "RUNNING")
	})
	if n := strings.Count(d.log(), "tend import "+d.conf); n != 1 {
		t.Errorf("after a reload the log names tend import %d times, want once", n)
	}

	// Errors name the INI file and line: a line that is no option, and a
	// value tend refuses (named at its option's line, or at its section's
	// while Lua errors name the block).
	d.write("conf.d/w.ini", dropinWorker+"this is not an option\n")
	out, rc := d.ctl("reread")
	check(t, []string{"reread"}, out, rc, "ERROR: CANT_REREAD: "+regexp.QuoteMeta(filepath.Join(d.dir, "conf.d/w.ini"))+
		`:6: in \[program:w\]: not a section, an option \(key = value\) or a comment: "this is not an option"`+"\n", 1)
	d.write("conf.d/w.ini", dropinWorker+"startretries=soon\n")
	out, rc = d.ctl("reread")
	check(t, []string{"reread"}, out, rc, "ERROR: CANT_REREAD: "+regexp.QuoteMeta(filepath.Join(d.dir, "conf.d/w.ini"))+
		`:(1|6): program "w": startretries must be .*got "soon"`+"\n", 1)
	out, rc = runTend(t, "check", "-c", d.conf)
	check(t, []string{"check"}, out, rc, `.*`+regexp.QuoteMeta(filepath.Join(d.dir, "conf.d/w.ini"))+`:(1|6): program "w": startretries .*`, 1)
	d.write("conf.d/w.ini", dropinWorker)

	out, rc = d.ctl("shutdown")
	check(t, []string{"shutdown"}, out, rc, "Shut down\n", 0)
	waitFor(t, "pidfile removed", func() bool { _, err := os.Stat(filepath.Join(d.dir, "sd.pid")); return err != nil })
	out, rc = d.ctl("status")
	check(t, []string{"status"}, out, rc, `unix://`+regexp.QuoteMeta(filepath.Join(d.dir, "s.sock"))+` no such file\n.*`, 4)
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestE2E_DropInForeground checks that -n and nodaemon=true keep
// supervisord in the foreground, and that a config error at start-up
// names the INI file:line and exits 2, as supervisord does.
func TestE2E_DropInForeground(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		conf string
	}{
		{"-n", []string{"-n"}, dropinConf},
		{"nodaemon=true", nil, strings.Replace(dropinConf, "nodaemon=false", "nodaemon=true", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDropin(t)
			d.write("supervisord.conf", tc.conf)
			cmd := exec.Command(filepath.Join(d.dir, "supervisord"), append(tc.args, "-c", d.conf)...)
			var out testkit.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); <-exited })
			waitFor(t, "daemon answering", func() bool {
				select {
				case <-exited:
					t.Fatalf("supervisord %v exited: %s", tc.args, out.String())
				default:
				}
				_, rc := d.ctl("status", "app")
				return rc == 0
			})
			if sid, _ := unix.Getsid(cmd.Process.Pid); sid == cmd.Process.Pid {
				t.Errorf("the foreground daemon made itself a session leader")
			}
			if !strings.Contains(out.String(), "tend started with pid") {
				t.Errorf("the foreground daemon does not echo its log: %q", out.String())
			}
		})
	}
	t.Run("config error", func(t *testing.T) {
		d := newDropin(t)
		d.write("supervisord.conf", dropinConf+"[program:bad]\ncommand sleep\n")
		out, rc := d.run("supervisord", "-c", d.conf)
		check(t, []string{"supervisord"}, out, rc, `Error: `+regexp.QuoteMeta(d.conf)+`:28: in \[program:bad\]: not a section.*\n`, 2)
	})
}

// TestE2E_DropInFlags checks supervisord's and supervisorctl's own flags.
func TestE2E_DropInFlags(t *testing.T) {
	d := newDropin(t)
	tests := []struct {
		name string
		args []string
		want string
		rc   int
	}{
		{"supervisord", []string{"--version"}, regexp.QuoteMeta(tendVersion(t)) + "\n", 0},
		{"supervisord", []string{"-h"}, `.*-c/--configuration FILE.*`, 0},
		{"supervisord", []string{"-x"}, "Error: option -x not recognized\nFor help, use .*supervisord -h\n", 2},
		{"supervisord", []string{"-c"}, "Error: option -c requires argument\n.*", 2},
		{"supervisord", []string{"-c", d.conf, "extra"}, "Error: positional arguments are not supported: .*", 2},
		{"supervisord", []string{"-c", "/nonexistent.conf"}, "Error: could not find config file /nonexistent.conf\n.*", 2},
		{"supervisorctl", []string{"-h"}, `.*-s/--serverurl URL.*`, 0},
		{"supervisorctl", []string{"-c", d.conf, "--bogus"}, "Error: option --bogus not recognized\n.*", 2},
		// No daemon yet: supervisorctl's socket error and exit code.
		{"supervisorctl", []string{"-c", d.conf, "status"}, "unix://" + regexp.QuoteMeta(filepath.Join(d.dir, "s.sock")) + " no such file\n.*", 4},
		{"supervisorctl", []string{"-s", "unix://" + d.dir + "/other.sock", "status"}, "unix://" + regexp.QuoteMeta(d.dir) + "/other.sock no such file\n.*", 4},
	}
	for _, tt := range tests {
		out, rc := d.run(tt.name, tt.args...)
		check(t, append([]string{tt.name}, tt.args...), out, rc, tt.want, tt.rc)
	}
}
