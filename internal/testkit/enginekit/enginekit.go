// Package enginekit runs a supervisor.Engine for a test: created with its
// events recorded, shut down when the test ends, with waits for process
// states driven by those events.
//
// It imports the engine, so the engine's in-package tests cannot use it
// (they have their own harness over testkit); every other package's tests
// can. It must never import vm or stdlib: the engine's external tests may
// use it, and the engine knows nothing of Lua.
package enginekit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// Engine is an engine under test.
type Engine struct {
	*supervisor.Engine
	// Dir is the temporary folder of the children's AUTO logs.
	Dir string
	// Clock is the fake clock the engine runs on, nil on the real one.
	Clock *testkit.FakeClock
	// Events holds every event the engine published since New.
	Events *testkit.Recorder[supervisor.Event]

	tb testing.TB
}

// New returns an engine configured by cfg (ChildLogDir defaults to a
// temporary folder) that is shut down at the end of the test. On a fake
// clock the shutdown runs the clock's timers, so that a child ignoring
// its stop signal still gets its SIGKILL.
func New(tb testing.TB, cfg supervisor.Config) *Engine {
	tb.Helper()
	if cfg.ChildLogDir == "" {
		cfg.ChildLogDir = tb.TempDir()
	}
	e := &Engine{Engine: supervisor.New(cfg), Dir: cfg.ChildLogDir, tb: tb}
	e.Clock, _ = cfg.Clock.(*testkit.FakeClock)
	sub := e.Subscribe(100000)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.DefaultWait)
		defer cancel()
		if e.Clock != nil {
			done := make(chan struct{})
			defer close(done)
			go e.Clock.RunUntil(done, 5*time.Millisecond)
		}
		e.Shutdown(ctx)
		sub.Close()
	})
	e.Events = testkit.Record(tb, sub.C)
	return e
}

// Run is New followed by Load(specs...).
func Run(tb testing.TB, cfg supervisor.Config, specs ...supervisor.Spec) *Engine {
	tb.Helper()
	e := New(tb, cfg)
	e.Load(specs...)
	return e
}

// Load hands specs to the engine and waits until every autostart one is
// RUNNING, failing the test on an error.
func (e *Engine) Load(specs ...supervisor.Spec) {
	e.tb.Helper()
	if _, err := e.Update(context.Background(), specs); err != nil {
		e.tb.Fatalf("update: %v", err)
	}
	for _, s := range specs {
		if s.AutoStart {
			e.WaitState(s.Namespec(), supervisor.Running)
		}
	}
}

// WaitState waits until the process name is in one of the states want,
// checking at once and after each event, and returns its snapshot. It
// fails the test after testkit.DefaultWait.
func (e *Engine) WaitState(name string, want ...supervisor.State) supervisor.Info {
	e.tb.Helper()
	var info supervisor.Info
	var err error
	e.Events.Wait(e.tb, fmt.Sprintf("%s to be %v", name, want), 0, func([]supervisor.Event) bool {
		info, err = e.Info(name)
		for _, st := range want {
			if err == nil && info.State == st {
				return true
			}
		}
		return false
	})
	return info
}

// Sleeper returns the spec of a process that runs until stopped and is
// RUNNING as soon as it is spawned (startsecs 0).
func Sleeper(name string) supervisor.Spec {
	s := supervisor.NewSpec(name, "sleep", "1000")
	s.StartSecs = 0
	return s
}

// Until waits until cond, a condition on the engine's state (restart
// counts, pids), holds, checking at once and after each event. It fails
// the test after testkit.DefaultWait.
func (e *Engine) Until(what string, cond func() bool) {
	e.tb.Helper()
	e.Events.Wait(e.tb, what, 0, func([]supervisor.Event) bool { return cond() })
}
