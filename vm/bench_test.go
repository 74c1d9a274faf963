package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yuin/gopher-lua/parse"
)

const (
	benchHeader = "daemon { childlogdir = \"/tmp\" }\n"
	benchFooter = "group \"g\" { programs = { \"p0\", \"p1\" }, priority = 5 }\n"
)

// programBlocks generates n program declarations with a mix of static,
// expanded and function options.
func programBlocks(n int) []string {
	blocks := make([]string, n)
	for i := range n {
		blocks[i] = fmt.Sprintf(`program "p%d" {
  command = "/bin/sleep %d",
  directory = "%%(here)s",
  priority = %d,
  startsecs = 1, autorestart = "unexpected", exitcodes = { 0, 2 },
  stdout_logfile = "/tmp/%%(program_name)s.log", stdout_logfile_maxbytes = "1MB",
  environment = function(p) return { PORT = tostring(8000 + p.num), NAME = p.program } end,
}
`, i, 100+i, i%50)
	}
	return blocks
}

// config1000 is a single file declaring n programs.
func config1000(n int) string {
	return benchHeader + strings.Join(programBlocks(n), "") + benchFooter
}

func TestLoad1000(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tend.lua")
	if err := os.WriteFile(path, []byte(config1000(1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// A minute: this measures, and -race on a busy machine is slow.
	v, cfg, err := Load(context.Background(), path, Options{LoadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if len(cfg.Specs) != 1000 || cfg.Specs[0].Group != "g" || cfg.Specs[999].Environment["NAME"] != "p999" {
		t.Fatalf("specs: %d", len(cfg.Specs))
	}
	t.Logf("1000 programs loaded and resolved in %s", time.Since(start))
}

// BenchmarkLoad1000 loads and resolves 1000 programs written three ways:
// literal (1000 program blocks in one file), confd (the same blocks split
// over 10 included files) and loop (one Lua loop declaring them).
func BenchmarkLoad1000(b *testing.B) {
	literal := config1000(1000)
	var loop strings.Builder
	loop.WriteString(`daemon { childlogdir = "/tmp" }
for i = 0, 999 do
  program("p" .. i) {
    command = "/bin/sleep " .. (100 + i),
    directory = "%(here)s",
    priority = i % 50,
    startsecs = 1, autorestart = "unexpected", exitcodes = { 0, 2 },
    stdout_logfile = "/tmp/%(program_name)s.log", stdout_logfile_maxbytes = "1MB",
    environment = function(p) return { PORT = tostring(8000 + p.num), NAME = p.program } end,
  }
end
group "g" { programs = { "p0", "p1" }, priority = 5 }
`)
	layouts := map[string]map[string]string{
		"literal": {"tend.lua": literal},
		"loop":    {"tend.lua": loop.String()},
		"confd":   {"tend.lua": benchHeader + "include \"conf.d/*.lua\"\n" + benchFooter},
	}
	blocks := programBlocks(1000)
	for i := range 10 {
		layouts["confd"][fmt.Sprintf("conf.d/%02d.lua", i)] = strings.Join(blocks[i*100:(i+1)*100], "")
	}
	for _, name := range []string{"literal", "confd", "loop"} {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			for f, src := range layouts[name] {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				v, cfg, err := Load(context.Background(), filepath.Join(dir, "tend.lua"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(cfg.Specs) != 1000 {
					b.Fatalf("%d specs", len(cfg.Specs))
				}
				v.Close()
			}
		})
	}
}

// BenchmarkLoad5000 loads 5000 programs written two ways: numprocs (one
// program "w" with numprocs = 5000) and literal (5000 program blocks).
func BenchmarkLoad5000(b *testing.B) {
	var literal strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&literal, "program \"w%d\" { command = \"sleep 1000\" }\n", i)
	}
	layouts := map[string]string{
		"numprocs": `program "w" { command = "sleep 1000", numprocs = 5000, process_name = "w_%(process_num)d" }` + "\n",
		"literal":  literal.String(),
	}
	for _, name := range []string{"numprocs", "literal"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "tend.lua")
			if err := os.WriteFile(path, []byte(layouts[name]), 0o644); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				v, cfg, err := Load(context.Background(), path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(cfg.Specs) != 5000 {
					b.Fatalf("%d specs", len(cfg.Specs))
				}
				v.Close()
			}
		})
	}
}

// BenchmarkCompile1000 is the part of BenchmarkLoad1000/literal spent in
// gopher-lua's parser and compiler alone (split: as tend compiles it; as
// is: one function for the whole file), to read the load time against.
func BenchmarkCompile1000(b *testing.B) {
	src := []byte(config1000(1000))
	b.Run("split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := compileSource(src, "tend.lua"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parse.Parse(bytes.NewReader(src), "tend.lua"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
