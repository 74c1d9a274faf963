package vm

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// bounded runs f and fails the test if it has not returned within limit
// (far above any deadline involved: the bound is tested, not timing).
func bounded(t *testing.T, what string, limit time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s: still blocked after %s", what, limit)
	}
}

// mkfifo makes a FIFO at path.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHookBlockedOnFIFO is the wedge: on_exit hooks read FIFOs.
// One FIFO has a writer that never writes: the hook gives up at its
// deadline (logged with file:line) and the default rule restarts the
// process. The other has no writer at all: it reads as empty at once and
// the hook's own answer applies. Either way the VM stays usable and
// closes promptly.
func TestHookBlockedOnFIFO(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": `local fs = require "fs"
program "silent" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = true, hook_timeout = 0.3,
  on_exit = function(p, e)
    local s = fs.read("silent.fifo")
    return "stop"
  end,
}
program "nowriter" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = true, hook_timeout = 0.3,
  on_exit = function(p, e)
    nowriter_read = fs.read("nowriter.fifo")
    return "stop"
  end,
}`})
	dir := filepath.Dir(path)
	mkfifo(t, filepath.Join(dir, "silent.fifo"))
	mkfifo(t, filepath.Join(dir, "nowriter.fifo"))
	w, err := os.OpenFile(filepath.Join(dir, "silent.fifo"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	logs := &testkit.Buffer{}
	v, e := startFile(t, path, logs)
	waitFor(t, "silent restarted twice by the default rule", 20*time.Second, func() bool {
		return info(t, e, "silent").Restarts >= 2
	})
	waitFor(t, "nowriter stopped by its hook", 20*time.Second, func() bool {
		return info(t, e, "nowriter").State == supervisor.Exited
	})
	if got := eval(t, v, `nowriter_read`); got != "" {
		t.Errorf("fs.read of a FIFO without writer = %q", got)
	}
	want := "on_exit hook (" + v.path + ":4) of silent: timed out after 300ms at " + v.path + ":5"
	if out := logs.String(); !strings.Contains(out, want) {
		t.Errorf("log lacks %q:\n%s", want, out)
	}
	if where, stuck := v.Stuck(); stuck {
		t.Errorf("VM stuck: %s", where)
	}
	bounded(t, "Close", 10*time.Second, v.Close)
}

// blockingVM loads a config and adds a Go function block() that holds
// the owner goroutine until release is closed (a call stuck in the
// kernel that no guard covers).
func blockingVM(t *testing.T, opts Options) (v *VM, release chan struct{}) {
	t.Helper()
	v, _ = loadSource(t, "x = 1", opts)
	release = make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	err := v.run(context.Background(), "setup", func(L *lua.LState) error {
		L.SetGlobal("block", L.NewFunction(func(L *lua.LState) int { <-release; return 0 }))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, release
}

// TestStuckVM: a Go function that ignores cancellation holds the owner
// goroutine. The call returns ErrStuck at deadline + grace, the daemon is
// told once, every later call fails at once, Close returns within the
// grace and logs what was running, and the goroutine still exits (closing
// the state) once the function returns.
func TestStuckVM(t *testing.T) {
	logs := &testkit.Buffer{}
	stuckCh := make(chan string, 4)
	v, release := blockingVM(t, Options{
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		StuckGrace: 200 * time.Millisecond,
		OnStuck:    func(where string) { stuckCh <- where },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var err error
	bounded(t, "Eval of a blocked chunk", 10*time.Second, func() { _, err = v.Eval(ctx, "block()") })
	if !errors.Is(err, ErrStuck) || !strings.Contains(err.Error(), "eval chunk, running for") {
		t.Fatalf("Eval error %v, want ErrStuck naming the eval chunk", err)
	}
	where, stuck := v.Stuck()
	if !stuck || !strings.HasPrefix(where, "eval chunk, running for ") || !strings.Contains(where, "(deadline ") {
		t.Errorf("Stuck() = %q, %v", where, stuck)
	}
	select {
	case w := <-stuckCh:
		if !strings.HasPrefix(w, "eval chunk") {
			t.Errorf("OnStuck(%q)", w)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnStuck not called")
	}
	bounded(t, "Eval on a stuck VM", 10*time.Second, func() { _, err = v.Eval(context.Background(), "1") })
	if !errors.Is(err, ErrStuck) {
		t.Errorf("Eval on a stuck VM: %v", err)
	}
	bounded(t, "Resolve on a stuck VM", 10*time.Second, func() { _, err = v.Resolve(context.Background(), "x", 1) })
	if !errors.Is(err, ErrStuck) {
		t.Errorf("Resolve on a stuck VM: %v", err)
	}
	bounded(t, "Close of a stuck VM", 10*time.Second, v.Close)
	if out := logs.String(); !strings.Contains(out, "lua vm abandoned: its goroutine did not return within 200ms of Close; it was running eval chunk") {
		t.Errorf("no abandon logged:\n%s", out)
	}
	if len(stuckCh) != 0 {
		t.Errorf("OnStuck called again: %q", <-stuckCh)
	}
	close(release)
	select {
	case <-v.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the owner goroutine did not exit once the blocked call returned")
	}
}

// TestStuckVMRecovers: once the blocked call returns, the VM answers
// again.
func TestStuckVMRecovers(t *testing.T) {
	v, release := blockingVM(t, Options{StuckGrace: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := v.Eval(ctx, "block()"); !errors.Is(err, ErrStuck) {
		t.Fatalf("Eval: %v", err)
	}
	close(release)
	waitFor(t, "the VM to answer again", 10*time.Second, func() bool {
		out, err := v.Eval(context.Background(), "x")
		return err == nil && out == "1\n"
	})
}

// TestReplaceStuckVM is the daemon's recipe for a stuck VM: when OnStuck
// fires, load the config into a fresh VM, hand its specs to the engine
// (unchanged specs only swap their hook policy; nothing restarts) and
// Close the stuck VM, which returns within the grace. Hooks then run in
// the fresh VM.
func TestReplaceStuckVM(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": `calls = 0
program "p" {
  command = { "sh", "-c", "sleep 0.2; exit 1" }, startsecs = 0, autorestart = true, hook_timeout = 0.2,
  on_exit = function(p, e)
    calls = calls + 1
    if block then block() end
    return "restart"
  end,
}`})
	stuckCh := make(chan string, 4)
	opts := Options{StuckGrace: 200 * time.Millisecond, OnStuck: func(w string) { stuckCh <- w }}
	v1, cfg, err := Load(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	if err := v1.run(context.Background(), "setup", func(L *lua.LState) error {
		L.SetGlobal("block", L.NewFunction(func(L *lua.LState) int { <-release; return 0 }))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t)
	if _, err := e.Update(context.Background(), cfg.Specs); err != nil {
		t.Fatal(err)
	}
	var where string
	select {
	case where = <-stuckCh:
	case <-time.After(20 * time.Second):
		t.Fatal("OnStuck not called")
	}
	if !strings.HasPrefix(where, "on_exit hook ("+path+":4) of p, running for ") {
		t.Errorf("OnStuck(%q)", where)
	}
	v2, cfg2, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v2.Close)
	changes, err := e.Update(context.Background(), cfg2.Specs)
	if err != nil || len(changes) != 0 {
		t.Fatalf("update: %v, %v; want no change", changes, err)
	}
	bounded(t, "Close of the stuck VM", 10*time.Second, v1.Close)
	waitFor(t, "hooks running in the fresh VM", 20*time.Second, func() bool {
		out, err := v2.Eval(context.Background(), "calls")
		return err == nil && out != "0\n" && out != "1\n"
	})
}

// TestBusyVM: a call that cannot start because the VM is busy says so,
// naming what holds it, rather than blaming its own chunk.
func TestBusyVM(t *testing.T) {
	v, release := blockingVM(t, Options{})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := v.Eval(ctx, "block()")
		done <- err
	}()
	waitFor(t, "the VM busy with block()", 10*time.Second, func() bool { return v.busyWith() == "eval chunk" })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := v.Eval(ctx, "1")
	if err == nil || err.Error() != "eval: not run: the lua vm stayed busy with eval chunk for 100ms" {
		t.Errorf("Eval on a busy VM: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("blocked chunk: %v", err)
	}
}

// TestStuckLoadNotReplaced: OnStuck is only for a VM in service; a VM
// stuck while its config loads makes Load fail instead.
func TestStuckLoadNotReplaced(t *testing.T) {
	called := make(chan string, 1)
	v := newVM("tend.lua", t.TempDir(), Options{StuckGrace: 100 * time.Millisecond, OnStuck: func(w string) { called <- w }})
	release := make(chan struct{})
	defer func() { close(release); v.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := v.run(ctx, "loading tend.lua", func(*lua.LState) error { <-release; return nil })
	if !errors.Is(err, ErrStuck) {
		t.Fatalf("run: %v", err)
	}
	select {
	case w := <-called:
		t.Errorf("OnStuck(%q) for a VM still loading", w)
	case <-time.After(200 * time.Millisecond):
	}
}
