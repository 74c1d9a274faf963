package enginekit_test

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// WaitState follows the events: it sees a process through RUNNING to
// STOPPED, and Load waits for the autostart processes only.
func TestWaitState(t *testing.T) {
	idle := enginekit.Sleeper("idle")
	idle.AutoStart = false
	e := enginekit.Run(t, supervisor.Config{}, enginekit.Sleeper("a"), idle)
	if i, _ := e.Info("a"); i.State != supervisor.Running {
		t.Fatalf("a is %s after Run, want RUNNING", i.State)
	}
	if err := e.StopProcess(t.Context(), "a", false); err != nil {
		t.Fatal(err)
	}
	if i := e.WaitState("a", supervisor.Stopped, supervisor.Exited); i.State != supervisor.Stopped {
		t.Fatalf("a is %s, want STOPPED", i.State)
	}
	if i, _ := e.Info("idle"); i.State != supervisor.Stopped {
		t.Fatalf("idle is %s, want STOPPED (never started)", i.State)
	}
}

// On a fake clock, the shutdown at the end of a test still reaches the
// SIGKILL of a child that ignores its stop signal, an hour of fake time
// away, without the test waiting for it.
func TestCleanupOnFakeClock(t *testing.T) {
	var pid int
	logs := &testkit.Buffer{}
	t.Run("inner", func(t *testing.T) {
		s := supervisor.NewSpec("stubborn", "/bin/sh", "-c", `trap "" TERM; echo ready; exec sleep 1000`)
		s.StartSecs = 0
		s.StopWait = time.Hour
		s.Stdout.Path = t.TempDir() + "/out"
		cfg := supervisor.Config{Clock: testkit.NewFakeClock(), Logger: slog.New(slog.NewTextHandler(logs, nil))}
		e := enginekit.Run(t, cfg, s)
		testkit.WaitFor(t, "ready", 0, func() bool {
			b, _ := os.ReadFile(s.Stdout.Path)
			return string(b) == "ready\n"
		})
		pid = e.WaitState("stubborn", supervisor.Running).Pid
	})
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("child %d outlived the test's cleanup", pid)
	}
	// Killed by stopwaitsecs, not by the shutdown's deadline (which kills
	// without this line).
	if want := fmt.Sprintf("killing 'stubborn' (%d) with SIGKILL", pid); !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}
