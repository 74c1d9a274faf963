package vm

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// start loads src, feeds its specs to a real engine, and forwards the
// engine's events to the VM as the daemon does.
func start(t *testing.T, src string, logs *testkit.Buffer) (*VM, *enginekit.Engine) {
	t.Helper()
	return startFile(t, writeConfig(t, map[string]string{"tend.lua": src}), logs)
}

// startFile is start for a config already written at path.
func startFile(t *testing.T, path string, logs *testkit.Buffer) (*VM, *enginekit.Engine) {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	v, cfg, err := Load(context.Background(), path, Options{Logger: logger})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(v.Close)
	e := enginekit.New(t, supervisor.Config{Logger: logger})
	sub := e.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case ev := <-sub.C:
				v.Observe(ev)
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		e.Shutdown(sctx)
		cancel()
		<-done
		sub.Close()
	})
	if _, err := e.Update(context.Background(), cfg.Specs); err != nil {
		t.Fatalf("update: %v", err)
	}
	return v, e
}

// eval runs a chunk and fails the test on error.
func eval(t *testing.T, v *VM, chunk string) string {
	t.Helper()
	out, err := v.Eval(context.Background(), chunk)
	if err != nil {
		t.Fatalf("eval %q: %v", chunk, err)
	}
	return strings.TrimSpace(out)
}

// TestHookExitDelay: a delay from on_exit restarts the process after that
// delay even with autorestart=false.
func TestHookExitDelay(t *testing.T) {
	_, e := start(t, `
program "d" {
  command = { "sh", "-c", "sleep 0.2; exit 3" }, startsecs = 0, autorestart = false,
  on_exit = function(p, e) return 0.5 end,
}`, nil)
	var first supervisor.Info
	e.Until("first exit", func() bool {
		first = info(t, e, "d")
		return first.State == supervisor.Exited
	})
	// The restart that follows the exit seen above: a poll that missed the
	// first EXITED (a loaded machine) saw a later one, after a restart.
	var second supervisor.Info
	e.Until("restart", func() bool {
		second = info(t, e, "d")
		return second.Restarts > first.Restarts
	})
	if gap := second.Start.Sub(first.Stop); gap < 500*time.Millisecond {
		t.Errorf("restarted %s after the exit, before the 0.5 s delay", gap)
	}
}

// TestHookBackoff: on_backoff's delay is used, it sees attempt 1, 2 ...,
// and startretries still caps the tries.
func TestHookBackoff(t *testing.T) {
	v, e := start(t, `
attempts = {}
program "b" {
  command = { "sh", "-c", "exit 1" }, startsecs = 1, startretries = 2,
  on_backoff = function(p, e)
    attempts[#attempts + 1] = e.attempt .. "/" .. e.startretries .. "/" .. e.code
    return 0.1
  end,
}`, nil)
	e.WaitState("b", supervisor.Fatal)
	if got := eval(t, v, `table.concat(attempts, " ")`); got != "1/2/1 2/2/1" {
		t.Errorf("attempts = %q, want \"1/2/1 2/2/1\"", got)
	}
}

// TestHookGiveUp: on_backoff returning false goes to FATAL at once.
func TestHookGiveUp(t *testing.T) {
	v, e := start(t, `
calls = 0
program "g" {
  command = { "sh", "-c", "exit 1" }, startsecs = 1, startretries = 10,
  on_backoff = function(p, e) calls = calls + 1; return false end,
}`, nil)
	e.WaitState("g", supervisor.Fatal)
	if got := eval(t, v, "calls"); got != "1" {
		t.Errorf("on_backoff called %s times, want 1", got)
	}
}

// TestHookStop: "stop" leaves the process EXITED although autorestart=true,
// while an identical program without the answer keeps restarting.
func TestHookStop(t *testing.T) {
	v, e := start(t, `
calls = 0
program "stopper" {
  command = { "sh", "-c", "sleep 0.1; exit 0" }, startsecs = 0, autorestart = true,
  on_exit = function(p, e) calls = calls + 1; return "stop" end,
}
program "control" {
  command = { "sh", "-c", "sleep 0.1; exit 0" }, startsecs = 0, autorestart = true,
  on_exit = function(p, e) return nil end,
}`, nil)
	waitFor(t, "stopper's hook", 10*time.Second, func() bool { return eval(t, v, "calls") == "1" })
	e.Until("control restarting", func() bool { return info(t, e, "control").Restarts >= 3 })
	if in := info(t, e, "stopper"); in.State != supervisor.Exited || in.Restarts != 0 {
		t.Errorf("stopper: state %s, restarts %d; want EXITED, 0", in.State, in.Restarts)
	}
}

// TestHookRunaway: a hook that never returns is cancelled at hook_timeout
// (logged with its file:line, then the default rule applies), and another
// program with a hook keeps restarting meanwhile. A failing hook is logged
// the same way.
func TestHookRunaway(t *testing.T) {
	logs := &testkit.Buffer{}
	v, e := start(t, `
program "runaway" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = true,
  hook_timeout = 0.3,
  on_exit = function(p, e)
    while true do end
  end,
}
program "broken" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = true,
  on_exit = function(p, e) error("hook failed on purpose") end,
}
steady_calls = 0
program "steady" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = false,
  on_exit = function(p, e) steady_calls = steady_calls + 1; return "restart" end,
}`, logs)
	e.Until("runaway restarted twice by the default rule", func() bool { return info(t, e, "runaway").Restarts >= 2 })
	e.Until("steady restarting", func() bool { return info(t, e, "steady").Restarts >= 5 })
	e.Until("broken restarting", func() bool { return info(t, e, "broken").Restarts >= 2 })
	out := logs.String()
	for _, want := range []string{
		"on_exit hook (" + v.path + ":5) of runaway: timed out after 300ms",
		"on_exit hook (" + v.path + ":11) of broken: " + v.path + ":11: hook failed on purpose",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if got := eval(t, v, "steady_calls >= 5"); got != "true" {
		t.Errorf("steady's hook ran too few times: %s", got)
	}
}

// TestObserveHooks: on_start runs when a process is RUNNING, on_state on
// each transition, with p carrying the pid.
func TestObserveHooks(t *testing.T) {
	v, e := start(t, `
started, states = {}, {}
program "o" {
  command = { "sleep", "30" }, startsecs = 0,
  on_start = function(p) started[p.name] = p.pid end,
  on_state = function(p, from, to) states[#states + 1] = from .. ">" .. to end,
}`, nil)
	e.WaitState("o", supervisor.Running)
	waitFor(t, "on_start", 10*time.Second, func() bool { return eval(t, v, "started.o ~= nil") == "true" })
	if got, want := eval(t, v, "started.o"), info(t, e, "o").Pid; got != itoa(want) {
		t.Errorf("on_start saw pid %s, want %d", got, want)
	}
	if got := eval(t, v, `table.concat(states, " ")`); got != "STOPPED>STARTING STARTING>RUNNING" {
		t.Errorf("on_state saw %q", got)
	}
}

// TestObserveNeverBlocks floods Observe while the VM is busy.
func TestObserveNeverBlocks(t *testing.T) {
	logs := &testkit.Buffer{}
	var logger = slog.New(slog.NewTextHandler(logs, nil))
	v, _ := loadSource(t, `program "o" { command = "x", hook_timeout = 5, on_state = function() while true do end end }`,
		Options{Logger: logger})
	ev := supervisor.Event{Type: supervisor.EventProcessState, Process: "o", Group: "o", To: supervisor.Running}
	done := make(chan struct{})
	go func() {
		for range eventQueue * 2 {
			v.Observe(ev)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked")
	}
	if !strings.Contains(logs.String(), "hook queue full: dropped PROCESS_STATE_RUNNING event for o") {
		t.Errorf("no drop logged:\n%.500s", logs.String())
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
