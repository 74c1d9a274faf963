package vm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// writeConfig writes files (name -> source) into a new folder and returns
// the path of the first, "tend.lua".
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "tend.lua")
}

// loadSource loads one config file and fails the test on error.
func loadSource(t *testing.T, src string, opts Options) (*VM, *Config) {
	t.Helper()
	v, cfg, err := Load(context.Background(), writeConfig(t, map[string]string{"tend.lua": src}), opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(v.Close)
	return v, cfg
}

// loadError loads src and returns the error text with the temp folder
// removed, so that messages read "tend.lua:3: ...".
func loadError(t *testing.T, files map[string]string) string {
	t.Helper()
	path := writeConfig(t, files)
	v, _, err := Load(context.Background(), path, Options{})
	if err == nil {
		v.Close()
		t.Fatalf("load succeeded, want an error")
	}
	return strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", "")
}

// newEngine returns a real engine with its logs in a temp folder, shut
// down at the end of the test.
func newEngine(t *testing.T) *enginekit.Engine {
	t.Helper()
	return enginekit.New(t, supervisor.Config{})
}

// waitFor polls cond until it holds or the deadline passes, for what the
// engine's events do not tell (the Lua state); engine states have
// enginekit's event-driven waits.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, d, cond)
}

// info returns the engine's snapshot of one process.
func info(t *testing.T, e *enginekit.Engine, name string) supervisor.Info {
	t.Helper()
	in, err := e.Info(name)
	if err != nil {
		t.Fatalf("info %s: %v", name, err)
	}
	return in
}
