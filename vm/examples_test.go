package vm

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tend-sh/tend/scripts"
	"github.com/tend-sh/tend/supervisor"
)

// TestExamples loads every shipped example and runs it against a real
// engine until each autostart process has been RUNNING, then shuts down.
// Log files the examples place under /tmp/tend-example go to a temp folder.
func TestExamples(t *testing.T) {
	names, err := fs.Glob(scripts.Examples, "*.lua")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"example.lua", "init.lua", "policy.lua", "pool.lua"}; !slices.Equal(names, want) {
		t.Fatalf("embedded examples %v, want %v", names, want)
	}
	if init, _ := fs.ReadFile(scripts.Examples, "init.lua"); string(init) != scripts.Init {
		t.Fatal("scripts.Init differs from init.lua")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			v, cfg, err := Load(context.Background(), filepath.Join("..", "scripts", name), Options{})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			defer v.Close()
			if len(cfg.Specs) == 0 {
				t.Fatal("no programs")
			}
			var b strings.Builder
			if err := FormatCheck(&b, cfg); err != nil || !strings.Contains(b.String(), cfg.Specs[0].Namespec()) {
				t.Fatalf("FormatCheck: %v\n%s", err, b.String())
			}
			logs := t.TempDir()
			for i := range cfg.Specs {
				for _, l := range []*supervisor.LogSpec{&cfg.Specs[i].Stdout, &cfg.Specs[i].Stderr} {
					if strings.HasPrefix(l.Path, "/tmp/tend-example/") {
						l.Path = filepath.Join(logs, filepath.Base(l.Path))
					}
				}
			}
			e := newEngine(t)
			sub := e.Subscribe(256)
			defer sub.Close()
			go func() {
				for ev := range sub.C {
					v.Observe(ev)
				}
			}()
			if _, err := e.Update(context.Background(), cfg.Specs); err != nil {
				t.Fatalf("update: %v", err)
			}
			for _, s := range cfg.Specs {
				e.Until(s.Namespec()+" RUNNING", func() bool {
					in := info(t, e, s.Namespec())
					return in.State == supervisor.Running || in.Restarts > 0
				})
			}
		})
	}
}
