package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// exitRun is one run of `tend daemon` to its end.
type exitRun struct {
	rc      int
	out     string // the echoed log
	elapsed time.Duration
}

// runToExit runs `tend daemon` (plus args, such as -- CMD) on a config of
// extra daemon{} settings and body until it exits by itself, or, with sig,
// sends sig once the file ready exists in the folder, then waits. A daemon
// still running after a minute is killed and the test fails.
func runToExit(t *testing.T, extra, body string, sig syscall.Signal, args ...string) exitRun {
	t.Helper()
	dir := t.TempDir()
	body = strings.ReplaceAll(body, "$DIR", dir)
	config := filepath.Join(dir, "tend.lua")
	if err := os.WriteFile(config, []byte(configText(dir, extra, body)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := new(bytes.Buffer)
	cmd := exec.Command(tendBin, append([]string{"daemon", "-c", config}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	if sig != 0 {
		waitFor(t, "the ready file", func() bool {
			_, err := os.Stat(filepath.Join(dir, "ready"))
			return err == nil
		})
		start = time.Now()
		cmd.Process.Signal(sig)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("tend did not exit:\n%s", out)
	}
	return exitRun{rc: cmd.ProcessState.ExitCode(), out: out.String(), elapsed: time.Since(start)}
}

// TestExitPolicy runs each case of container mode's exit policy and checks
// tend's exit status and the log line naming the cause.
func TestExitPolicy(t *testing.T) {
	prog := func(name, script, opts string) string {
		return fmt.Sprintf("program %q { command = %q, startsecs = 0, %s }\n", name, script, opts)
	}
	sleeper := prog("side", "sleep 1000", "")
	ready := `touch $DIR/ready; `
	stubborn := prog("stub", `sh -c 'trap "" TERM; `+ready+`while :; do sleep 0.1; done'`, "stopwaitsecs = 1")
	cases := []struct {
		name, extra, body string
		sig               syscall.Signal
		args              []string
		rc                int
		cause             string
		also              string // another log line the case must show
	}{
		{name: "essential exit 0", body: sleeper + prog("web", "sh -c 'sleep 0.3; exit 0'", "essential = true"),
			rc: 0, cause: "essential program web exited with status 0"},
		{name: "essential exit 3", body: sleeper + prog("web", "sh -c 'sleep 0.3; exit 3'", "essential = true, autorestart = false"),
			rc: 3, cause: "essential program web exited with status 3"},
		{name: "essential killed by TERM", body: sleeper + prog("web", "sh -c 'sleep 0.3; kill -TERM $$'", "essential = true, autorestart = false"),
			rc: 143, cause: "essential program web was killed by SIGTERM"},
		{name: "essential killed by KILL", body: sleeper + prog("web", "sh -c 'sleep 0.3; kill -KILL $$'", "essential = true, autorestart = false"),
			rc: 137, cause: "essential program web was killed by SIGKILL"},
		{name: "remap 143 to 0", extra: "exit_codes = { [143] = 0 }",
			body: sleeper + prog("web", "sh -c 'sleep 0.3; kill -TERM $$'", "essential = true, autorestart = false"),
			rc:   0, cause: "essential program web was killed by SIGTERM (exit_codes maps 143 to 0)"},
		{name: "essential FATAL", body: sleeper + prog("web", "/nonexistent/web", "essential = true, startretries = 1"),
			rc: 1, cause: "essential program web entered FATAL"},
		{name: "restarted essential does not end", body: prog("web", `sh -c 'if [ -e $DIR/once ]; then sleep 0.3; exit 0; fi; touch $DIR/once; sleep 0.3; exit 9'`,
			"essential = true"),
			rc: 0, cause: "essential program web exited with status 0"},
		{name: "all done as expected", extra: "exit_when_done = true",
			body: prog("a", "sh -c 'sleep 0.2'", "") + prog("b", "sh -c 'sleep 0.4'", "") + prog("off", "sleep 1000", "autostart = false"),
			rc:   0, cause: "every program is done, all as expected (exit_when_done)"},
		{name: "all done, one unexpected", extra: "exit_when_done = true",
			body: prog("a", "sh -c 'sleep 0.2; exit 4'", "autorestart = false") + prog("b", "sh -c 'sleep 0.5'", ""),
			rc:   4, cause: "every program is done; the first unexpected end: a exited with status 4 (exit_when_done)"},
		{name: "all done, a task waiting for another is not done", extra: "exit_when_done = true",
			body: prog("a", "sh -c 'sleep 0.2'", "startsecs = 0, autorestart = false") +
				prog("b", "sh -c 'sleep 0.1'", `startsecs = 0, autorestart = false, requires = { a = "completed" }`),
			rc: 0, cause: "every program is done, all as expected (exit_when_done)", also: "spawned: 'b' with pid"},
		{name: "main command", body: sleeper, args: []string{"--", "sh", "-c", "sleep 0.3; exit 7"},
			rc: 7, cause: "the main command exited with status 7"},
		{name: "main command spawn failure", body: sleeper, args: []string{"--", "/nonexistent/cmd", "-c", "x"},
			rc: 1, cause: "the main command entered FATAL"},
		{name: "SIGTERM, all stop in time", body: prog("web", `sh -c '`+ready+`exec sleep 1000'`, ""), sig: syscall.SIGTERM,
			rc: 0, cause: "received SIGTERM; every program stopped within its stopwaitsecs"},
		{name: "SIGTERM, one needs SIGKILL", body: sleeper + stubborn, sig: syscall.SIGTERM,
			rc: 137, cause: "received SIGTERM; killed with SIGKILL: stub"},
		{name: "a Lua function chooses the code", extra: `exit_codes = function(x) if x.cause:find("web") then return x.code + 10 end end`,
			body: sleeper + prog("web", "sh -c 'sleep 0.3; exit 3'", "essential = true, autorestart = false"),
			rc:   13, cause: "essential program web exited with status 3 (the exit_codes function at "},
		{name: "a Lua function keeps the code", extra: `exit_codes = function(x) return nil end`,
			body: sleeper + prog("web", "sh -c 'sleep 0.3; exit 3'", "essential = true, autorestart = false"),
			rc:   3, cause: "essential program web exited with status 3\n"},
		{name: "a failing Lua function keeps the code", extra: `exit_codes = function(x) error("no") end`,
			body: sleeper + prog("web", "sh -c 'sleep 0.3; exit 3'", "essential = true, autorestart = false"),
			rc:   3, cause: "essential program web exited with status 3\n",
			also: `choosing the exit status: exit_codes hook (`},
		{name: "rewrite TERM to QUIT", extra: `rewrite = { TERM = "QUIT" }`,
			body: prog("stub", `sh -c 'trap "" TERM; trap "exit 0" QUIT; `+ready+`while :; do sleep 0.1; done'`, "stopwaitsecs = 30"),
			sig:  syscall.SIGTERM, rc: 0, cause: "received SIGTERM; every program stopped within its stopwaitsecs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runToExit(t, c.extra, c.body, c.sig, c.args...)
			want := fmt.Sprintf("tend exiting with status %d: %s", c.rc, c.cause)
			if r.rc != c.rc || !strings.Contains(r.out, want) || !strings.Contains(r.out, c.also) {
				t.Errorf("rc %d, want %d and the log lines %q, %q; log:\n%s", r.rc, c.rc, want, c.also, r.out)
			}
		})
	}
}

// TestForwardSignal: daemon{ forward = { USR1 = "web:*" } } passes USR1 to
// every process of web, as USR2 when rewrite = { USR1 = "USR2" } says so,
// and tend keeps running.
func TestForwardSignal(t *testing.T) {
	dir := t.TempDir()
	script := fmt.Sprintf(`sh -c 'trap "echo usr2 >> %s/got" USR2; touch %s/ready$$; while :; do sleep 0.1; done'`, dir, dir)
	d := startDaemonIn(t, dir, `forward = { USR1 = "web:*" }, rewrite = { USR1 = "USR2" }`, fmt.Sprintf(
		`program "web" { command = %q, numprocs = 2, process_name = "web%%(process_num)s", startsecs = 0 }`, script))
	waitFor(t, "both ready", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "ready*"))
		return len(m) == 2
	})
	d.cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "two USR2 lines", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "got"))
		return strings.Count(string(b), "usr2") == 2
	})
	if _, rc := d.ctl("version"); rc != 0 {
		t.Fatalf("tend stopped answering after a forwarded signal:\n%s", d.out)
	}
}

// TestHealthProbes: daemon{ health } serves /healthz and /readyz on its own
// port, without credentials, and nothing of the control door: readiness
// waits for the autostart programs to be RUNNING.
func TestHealthProbes(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	d := startDaemonWith(t, fmt.Sprintf(`health = { listen = %q }`, addr),
		`program "web" { command = "sleep 1000", startsecs = 2 }`)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || body != "not ready: web (STARTING)\n" {
		t.Errorf("/readyz while web starts: %d %q", code, body)
	}
	d.waitStatus("web", "RUNNING")
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz once web runs: %d %q", code, body)
	}
	if code, _ := get("/RPC2"); code != 404 {
		t.Errorf("/RPC2 on the health port: %d, want 404", code)
	}
}

// TestContainerExampleChecks: the shipped container config loads.
func TestContainerExampleChecks(t *testing.T) {
	out, rc := runTend(t, "-c", filepath.Join("..", "..", "scripts", "container", "tend.lua"), "check")
	if rc != 0 || !strings.Contains(out, "log_prefix=0 web | ") {
		t.Errorf("tend check of scripts/container/tend.lua: rc %d\n%s", rc, out)
	}
}

// TestShutdownBudgetE2E: ten groups, each a TERM-ignoring program with
// stopwaitsecs 10 in a priority of its own, and shutdown_timeout 5: on
// SIGTERM tend is gone in about 5 s (supervisord waits 10 s per group,
// ~100 s), exits 137 and names the killed. The time is reported; the
// check is only that it is well under one stopwaitsecs.
func TestShutdownBudgetE2E(t *testing.T) {
	var body strings.Builder
	for i := range 10 {
		fmt.Fprintf(&body, "program \"g%d\" { command = %q, startsecs = 0, priority = %d, stopwaitsecs = 10 }\n",
			i, `sh -c 'trap "" TERM; while :; do sleep 0.1; done'`, 100-i)
	}
	// Started after every g (priorities ascend): ready means all run.
	body.WriteString(`program "last" { command = "sh -c 'touch $DIR/ready; exec sleep 1000'", startsecs = 0, priority = 900 }` + "\n")
	r := runToExit(t, "shutdown_timeout = 5", body.String(), syscall.SIGTERM)
	t.Logf("tend exited %d after %v", r.rc, r.elapsed.Round(10*time.Millisecond))
	if r.rc != 137 || !strings.Contains(r.out, "shutdown time is up: killing g") ||
		!strings.Contains(r.out, "tend exiting with status 137: received SIGTERM; killed with SIGKILL: g") {
		t.Errorf("rc %d, want 137 and the killed named:\n%s", r.rc, r.out)
	}
	if r.elapsed > 9*time.Second {
		t.Errorf("shutdown took %v with shutdown_timeout = 5", r.elapsed)
	}
}
