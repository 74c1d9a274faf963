package stdlib

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// withDeadline sets L's context to one ending after d, reset at cleanup.
func withDeadline(t *testing.T, L *lua.LState, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	L.SetContext(ctx)
	t.Cleanup(func() { L.RemoveContext(); cancel() })
}

// callBounded runs src on L and fails the test if it has not returned
// within limit (far above the deadline; the bound is what is tested, not
// the timing).
func callBounded(t *testing.T, L *lua.LState, src string, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- L.DoString(src) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("%s: still blocked after %s", src, limit)
		return nil
	}
}

// TestBlockingCallsHonourDeadline: every stdlib function that can block
// in the kernel runs under the guard, so one stuck there (simulated by
// testBlock) raises "<name>: context deadline exceeded: abandoned at
// <file:line>" once the caller's deadline passes, instead of holding the
// Lua goroutine.
func TestBlockingCallsHonourDeadline(t *testing.T) {
	tests := []struct{ name, src string }{
		{"fs.exists", `return require("fs").exists("x")`},
		{"fs.read", `return require("fs").read("x")`},
		{"fs.glob", `return require("fs").glob("*")`},
		{"sys.cpus", `return require("sys").cpus()`},
		{"sys.cpus_online", `return require("sys").cpus_online()`},
		{"sys.memory", `return require("sys").memory()`},
		{"sys.memory_limit", `return require("sys").memory_limit()`},
		{"sys.hostname", `return require("sys").hostname()`},
		{"sv.status", `return require("sv").status()`},
		{"sv.start", `return require("sv").start("a")`},
		{"sv.stop", `return require("sv").stop("a")`},
		{"sv.restart", `return require("sv").restart("a")`},
		{"sv.signal", `return require("sv").signal("a", "HUP")`},
		{"sv.scale", `return require("sv").scale("a", 2)`},
		{"sv.reload", `return require("sv").reload()`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			var mu sync.Mutex
			var blocked []string
			L := newState(t, Options{Dir: t.TempDir(), Control: &fakeControl{}, testBlock: func(name string) {
				mu.Lock()
				blocked = append(blocked, name)
				mu.Unlock()
				<-release
			}})
			// Load the module first: the deadline is for the call.
			mod, _, _ := strings.Cut(tt.name, ".")
			if err := L.DoString(`require "` + mod + `"`); err != nil {
				t.Fatal(err)
			}
			withDeadline(t, L, 300*time.Millisecond)
			err := callBounded(t, L, tt.src, 10*time.Second)
			want := tt.name + ": context deadline exceeded: abandoned at <string>:1 still blocked"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want it to contain %q", err, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(blocked) != 1 || blocked[0] != tt.name {
				t.Errorf("guarded calls %q, want [%s]", blocked, tt.name)
			}
		})
	}
}

// TestGuardBoundsAbandonedCalls: calls abandoned while still blocked hold
// at most maxBlocked goroutines; the next one fails at once.
func TestGuardBoundsAbandonedCalls(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	L := newState(t, Options{testBlock: func(string) { <-release }})
	if err := L.DoString(`require "sys"`); err != nil {
		t.Fatal(err)
	}
	for range maxBlocked {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		L.SetContext(ctx)
		err := L.DoString(`require("sys").cpus()`)
		L.RemoveContext()
		cancel()
		if err == nil || !strings.Contains(err.Error(), "abandoned") {
			t.Fatalf("blocked call: %v", err)
		}
	}
	withDeadline(t, L, time.Minute)
	err := callBounded(t, L, `require("sys").cpus()`, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "16 earlier calls are still blocked in the kernel; refusing another") {
		t.Errorf("error %v", err)
	}
}

// TestReadFIFO: fs.read of a FIFO never holds the caller. Without a
// writer it reads as empty at once (the hook bomb: os.Open used to
// wait for a writer forever); with a writer that never writes it raises
// at the caller's deadline.
func TestReadFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	L := newState(t, Options{Dir: dir})
	withDeadline(t, L, 200*time.Millisecond)
	if err := callBounded(t, L, `got = require("fs").read("fifo")`, 10*time.Second); err != nil {
		t.Fatalf("no writer: %v", err)
	}
	if got := L.GetGlobal("got"); got.String() != "" {
		t.Errorf("no writer: got %q, want \"\"", got)
	}

	// A writer that holds the FIFO open and stays silent.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	L.RemoveContext()
	withDeadline(t, L, 200*time.Millisecond)
	// Either fs.read notices the deadline first (nil, message) or the
	// guard does (it raises); both end the call.
	err = callBounded(t, L, `got, msg = require("fs").read("fifo")`, 10*time.Second)
	if err == nil {
		if msg := L.GetGlobal("msg").String(); !strings.Contains(msg, "context deadline exceeded") {
			t.Errorf("silent writer: fs.read gave %q, %q; want the deadline", L.GetGlobal("got"), msg)
		}
	} else if !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("silent writer: error %v, want fs.read to give up at the deadline", err)
	}
}

// TestReadFileStopsAtDeadline: ReadFile of a FIFO whose writer is silent
// returns the context's error.
func TestReadFileStopsAtDeadline(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = ReadFile(ctx, fifo, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("error %v", err)
	}
}
