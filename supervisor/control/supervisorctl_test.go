package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// ctlRun runs supervisorctl with args and returns its combined output and
// exit code.
func ctlRun(t *testing.T, ctl string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctl, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("supervisorctl %v: %v", args, err)
	return "", 0
}

// TestSupervisorctl drives Debian's supervisorctl against tend over the
// unix socket and over TCP with basic auth, and compares its output and
// exit codes with what it prints against supervisord 4.2.5 (section 8 of
// the reference).
func TestSupervisorctl(t *testing.T) {
	ctl := testkit.RequireTool(t, "supervisorctl")
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	env.eng.WaitState("talker", supervisor.Running)
	env.waitTalkerOutput(t)
	url := "unix://" + env.sock
	pid := fmt.Sprint(os.Getpid())
	sleeperPid := func() string {
		i, _ := env.eng.Info("sleeper")
		return fmt.Sprint(i.Pid)
	}
	running := `pid \d+, uptime 0:00:\d\d`

	tests := []struct {
		args []string
		want string // regexp matched against the whole output
		rc   int
	}{
		{[]string{"status"}, `^grp:w1                           RUNNING   ` + running + `\n` +
			`grp:w2                           RUNNING   ` + running + `\n` +
			`idle                             STOPPED   Not started\n` +
			`sleeper                          RUNNING   ` + running + `\n` +
			`talker                           RUNNING   ` + running + `\n$`, 3},
		{[]string{"status", "sleeper"}, `^sleeper                          RUNNING   ` + running + `\n$`, 0},
		{[]string{"status", "grp:*"}, `^grp:w1 .*\ngrp:w2 .*\n$`, 0},
		{[]string{"status", "nosuch"}, `^nosuch: ERROR \(no such process\)\n$`, 4},
		{[]string{"version"}, `^4\.2\.5\n$`, 0},
		{[]string{"pid"}, `^` + pid + `\n$`, 0},
		{[]string{"pid", "idle"}, `^0\n$`, 7},
		{[]string{"pid", "nosuch"}, `^No such process nosuch\n$`, 1},
		{[]string{"start", "idle"}, `^idle: started\n$`, 0},
		{[]string{"start", "idle"}, `^idle: ERROR \(already started\)\n$`, 0},
		{[]string{"stop", "idle"}, `^idle: stopped\n$`, 0},
		{[]string{"stop", "idle"}, `^idle: ERROR \(not running\)\n$`, 0},
		{[]string{"stop", "nosuch"}, `^nosuch: ERROR \(no such process\)\n$`, 1},
		{[]string{"start", "nosuch"}, `^nosuch: ERROR \(no such process\)\n$`, 1},
		{[]string{"start", "nogroup:*"}, `^nogroup: ERROR \(no such group\)\n$`, 2},
		{[]string{"stop", "grp:*"}, `^(grp:w1: stopped\ngrp:w2: stopped|grp:w2: stopped\ngrp:w1: stopped)\n$`, 0},
		{[]string{"start", "grp:*"}, `^(grp:w1: started\ngrp:w2: started|grp:w2: started\ngrp:w1: started)\n$`, 0},
		{[]string{"restart", "sleeper"}, `^sleeper: stopped\nsleeper: started\n$`, 0},
		{[]string{"signal", "CONT", "sleeper"}, `^sleeper: signalled\n$`, 0},
		{[]string{"signal", "BOGUS", "sleeper"}, `^sleeper: ERROR \(bad signal name\)\n$`, 1},
		{[]string{"signal", "HUP", "idle"}, `^idle: ERROR \(not running\)\n$`, 7},
		{[]string{"signal", "HUP", "nosuch"}, `^nosuch: ERROR \(no such process\)\n$`, 1},
		{[]string{"tail", "talker"}, `^hello\n\n$`, 0},
		{[]string{"tail", "-3", "talker"}, `^lo\n\n$`, 0},
		{[]string{"tail", "talker", "stderr"}, `^oops\n\n$`, 0},
		{[]string{"tail", "nosuch"}, `^nosuch: ERROR \(no such process name\)\n$`, 1},
		{[]string{"maintail"}, `supervisord started with pid 1\n`, 0},
		{[]string{"avail"}, `^idle                             in use    manual    999:999\n` +
			`newone                           avail     auto      999:999\n` +
			`sleeper                          in use    auto      999:999\n` +
			`talker                           in use    auto      999:999\n` +
			`grp:w1                           in use    auto      500:999\n` +
			`grp:w2                           in use    auto      500:999\n$`, 0}, // sorted by process name, as supervisord does
		{[]string{"clear", "talker"}, `^talker: cleared\n$`, 0},
		{[]string{"clear", "nosuch"}, `^nosuch: ERROR \(no such process\)\n$`, 1},
		{[]string{"reread"}, `^newone: available\n$`, 0},
		{[]string{"update"}, `^newone: added process group\n$`, 0},
		{[]string{"reread"}, `^No config updates to processes\n$`, 0},
		{[]string{"update", "nosuchgroup"}, `^ERROR: no such group: nosuchgroup\n$`, 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			out, rc := ctlRun(t, ctl, append([]string{"-s", url}, tt.args...)...)
			if !regexp.MustCompile(tt.want).MatchString(out) || rc != tt.rc {
				t.Errorf("supervisorctl %s:\n got rc %d, output:\n%s\nwant rc %d, output matching:\n%s",
					strings.Join(tt.args, " "), rc, out, tt.rc, tt.want)
			}
		})
	}

	t.Run("pid_sleeper", func(t *testing.T) {
		out, rc := ctlRun(t, ctl, "-s", url, "pid", "sleeper")
		if out != sleeperPid()+"\n" || rc != 0 {
			t.Errorf("pid sleeper: rc %d %q, want %s", rc, out, sleeperPid())
		}
	})

	t.Run("tail_-f", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// talker's log was cleared above; restarting it prints hello again,
		// which the follower must show.
		cmd := exec.CommandContext(ctx, ctl, "-s", url, "tail", "-f", "talker")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "==> Press Ctrl-C to exit <==" {
			t.Fatalf("first line %q, want the Ctrl-C banner", sc.Text())
		}
		if _, err := env.mustCallRestart(t, "talker"); err != nil {
			t.Fatal(err)
		}
		got := ""
		for sc.Scan() {
			got += sc.Text() + "\n"
			if strings.Contains(got, "hello") {
				break
			}
		}
		if !strings.Contains(got, "hello") {
			t.Fatalf("tail -f never showed new output; got %q", got)
		}
	})

	t.Run("tail_-f_nosuch", func(t *testing.T) {
		out, rc := ctlRun(t, ctl, "-s", url, "tail", "-f", "nosuch")
		if !strings.Contains(out, "Cannot read, status code 404") || rc != 0 {
			t.Errorf("tail -f nosuch: rc %d %q", rc, out)
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		out, rc := ctlRun(t, ctl, "-s", url, "shutdown")
		if out != "Shut down\n" || rc != 0 {
			t.Errorf("shutdown: rc %d %q", rc, out)
		}
		xrtWaitFor(t, "engine shutdown", env.eng.ShuttingDown)
		out, rc = ctlRun(t, ctl, "-s", url, "start", "idle")
		if !strings.Contains(out, "SHUTDOWN_STATE") || rc == 0 {
			t.Errorf("start after shutdown: rc %d %q, want an error", rc, out)
		}
	})
}

// mustCallRestart stops and starts a process over XML-RPC.
func (env *xrtEnv) mustCallRestart(t *testing.T, name string) (any, error) {
	t.Helper()
	if _, f := env.call(t, "supervisor.stopProcess", name); f != nil {
		return nil, fmt.Errorf("stop: %s", f.String)
	}
	if _, f := env.call(t, "supervisor.startProcess", name); f != nil {
		return nil, fmt.Errorf("start: %s", f.String)
	}
	return true, nil
}

// TestSupervisorctlTCPAuth runs supervisorctl over TCP with basic auth.
func TestSupervisorctlTCPAuth(t *testing.T) {
	ctl := testkit.RequireTool(t, "supervisorctl")
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse[:1], avail[:1], "user", "123")
	url := "http://" + env.tcp
	out, rc := ctlRun(t, ctl, "-s", url, "-u", "user", "-p", "123", "status")
	if !regexp.MustCompile(`^sleeper +RUNNING +pid \d+`).MatchString(out) || rc != 0 {
		t.Errorf("status with credentials: rc %d %q", rc, out)
	}
	out, rc = ctlRun(t, ctl, "-s", url, "-u", "user", "-p", "wrong", "status")
	if !strings.Contains(out, "Server requires authentication") || rc != 1 {
		t.Errorf("status with a wrong password: rc %d %q", rc, out)
	}
	out, rc = ctlRun(t, ctl, "-s", url, "-u", "user", "-p", "123", "stop", "sleeper")
	if out != "sleeper: stopped\n" || rc != 0 {
		t.Errorf("stop with credentials: rc %d %q", rc, out)
	}
}
