package vm

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLoadTimeout: a config looping at load is stopped at load_timeout
// (Options.LoadTimeout, which the daemon takes from the running config)
// and the error says where it was running.
func TestLoadTimeout(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": "x = 1\nlocal n = 0\nwhile true do\n  n = n + 1\nend\n"})
	var err error
	bounded(t, "Load of a looping config", 20*time.Second, func() {
		_, _, err = Load(context.Background(), path, Options{LoadTimeout: 200 * time.Millisecond})
	})
	got := strings.ReplaceAll(fmtErr(err), filepath.Dir(path)+"/", "")
	// The loop's instructions sit on lines 3 to 5; any is where it was
	// when stopped.
	want := regexp.MustCompile(`^load tend\.lua: stopped at tend\.lua:[345]: still running after 200ms \(load_timeout; a runaway loop in the config\?\)$`)
	if !want.MatchString(got) {
		t.Errorf("error: %s", got)
	}
}

// TestLoadTailCallLoop: a runaway tail-recursive loop is stopped at its
// deadline without the VM counting as stuck: gopher-lua's traceback costs
// a line per tail call, so the VM's protected calls use a message handler
// that builds none.
func TestLoadTailCallLoop(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": "local function f(n) return f(n + 1) end\nf(0)\n"})
	var err error
	bounded(t, "Load of a tail-call loop", 20*time.Second, func() {
		_, _, err = Load(context.Background(), path, Options{LoadTimeout: 500 * time.Millisecond, StuckGrace: 300 * time.Millisecond})
	})
	got := strings.ReplaceAll(fmtErr(err), filepath.Dir(path)+"/", "")
	if got != "load tend.lua: stopped at tend.lua:1: still running after 500ms (load_timeout; a runaway loop in the config?)" {
		t.Errorf("error: %s", got)
	}
}

// TestLoadTimeoutOption: load_timeout is a daemon option; it bounds the
// next load and this config's Resolve.
func TestLoadTimeoutOption(t *testing.T) {
	_, cfg := loadSource(t, `daemon { load_timeout = 2 }`, Options{})
	if cfg.Daemon.LoadTimeout != 2*time.Second {
		t.Errorf("load_timeout = %s", cfg.Daemon.LoadTimeout)
	}
	_, cfg = loadSource(t, `x = 1`, Options{})
	if cfg.Daemon.LoadTimeout != DefaultLoadTimeout {
		t.Errorf("default load_timeout = %s", cfg.Daemon.LoadTimeout)
	}
	if got := loadError(t, map[string]string{"tend.lua": `daemon { load_timeout = 0 }`}); got != "tend.lua:1: daemon: load_timeout must be a number > 0, got 0" {
		t.Errorf("load_timeout = 0: %s", got)
	}
}

// TestLoadCancelled: Load returns promptly when its context is cancelled
// (SIGTERM during a reload), even while the config waits on a module file
// that is a FIFO whose writer never writes.
func TestLoadCancelled(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": "x = 1\nrequire \"slow\"\n"})
	fifo := filepath.Join(filepath.Dir(path), "slow.lua")
	mkfifo(t, fifo)
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	bounded(t, "Load of a config reading a silent FIFO", 20*time.Second, func() {
		_, _, err = Load(ctx, path, Options{LoadTimeout: time.Minute})
	})
	got := strings.ReplaceAll(fmtErr(err), filepath.Dir(path)+"/", "")
	if got != "load tend.lua: cancelled at tend.lua:2: context canceled" {
		t.Errorf("error: %s", got)
	}
}

// TestErrorsWithoutPosition: errors raised without a position (level 0,
// a non-string value) still name the file:line that raised them.
func TestErrorsWithoutPosition(t *testing.T) {
	for src, want := range map[string]string{
		"\nerror('plain', 0)": "tend.lua:2: plain",
		"error(nil)":          "tend.lua:1: nil",
		"x = 1\nlocal function f() error({}) end\nf()": "tend.lua:2: table: ",
		"\npcall(program, 1)\nerror('after')":          "tend.lua:2: program: expected a name or a table of options",
		"local function f() f() end\nf()":              "tend.lua:1: stack overflow",
	} {
		if got := loadError(t, map[string]string{"tend.lua": src}); !strings.HasPrefix(got, want) {
			t.Errorf("%q: %s, want %s...", src, got, want)
		}
	}
}

// TestSyntaxErrorsLocated: every syntax error carries file:line; one at
// the end of the file says what was left open and where.
func TestSyntaxErrorsLocated(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unclosed table", "program \"web\" {\n  command = \"x\",\n",
			"tend.lua:1: '}' expected (to close '{' at line 1) near end of file"},
		{"unclosed call", "x = 1\nprint(\n  1,\n  2\n",
			"tend.lua:2: ')' expected (to close '(' at line 2) near end of file"},
		{"unclosed function", "program \"a\" {\n  command = \"x\",\n  on_exit = function(p, e)\n    return \"stop\"\n}\n",
			"tend.lua:5: 'end' expected (to close 'function' at line 3) near '}'"},
		{"closer that matches", "x = (1 + )\n", "tend.lua:1: syntax error near ')'"},
		{"unclosed if inside closed function", "local function f()\n  return 1\nend\nif x then\n  y = 1\n",
			"tend.lua:4: 'end' expected (to close 'if' at line 4) near end of file"},
		{"unclosed do", "do\n  local x = 1\n",
			"tend.lua:1: 'end' expected (to close 'do' at line 1) near end of file"},
		{"unclosed while", "while true do\n  x = 1\n",
			"tend.lua:1: 'end' expected (to close 'while' at line 1) near end of file"},
		{"unclosed for with nested do", "for i = 1, 2 do\n  do end\n",
			"tend.lua:1: 'end' expected (to close 'for' at line 1) near end of file"},
		{"unclosed repeat", "repeat\n  x = 1\n",
			"tend.lua:1: 'until' expected (to close 'repeat' at line 1) near end of file"},
		{"brackets in strings and comments ignored", "x = \"{(\" -- { (\n--[[ { ]] t = {\n  a = '}',\n",
			"tend.lua:2: '}' expected (to close '{' at line 2) near end of file"},
		{"unfinished long string", "x = 1\ny = [==[\nabc\n",
			"tend.lua:2: unfinished long string starting here (the file ends at line 3 without its closing ]==])"},
		{"unfinished long comment", "x = 1\n--[[ note\n\nmore\n",
			"tend.lua:2: unfinished long comment starting here (the file ends at line 4 without its closing ]])"},
		{"unfinished string", "x = 1\ny = \"abc\nz = 2\n",
			"tend.lua:2: unfinished string (a quote is missing on this line)"},
		{"dangling operator", "x = 1\ny = 2 +\n\n",
			"tend.lua:2: syntax error at end of file near '+'"},
		{"error in the middle keeps its line", "x = 1\ny = = 2\n",
			"tend.lua:2: syntax error near '='"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadError(t, map[string]string{"tend.lua": tt.src}); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	// An included file and a required module say the same.
	got := loadError(t, map[string]string{"tend.lua": `include "conf.d/*.lua"`, "conf.d/a.lua": "t = {\n"})
	if got != "conf.d/a.lua:1: '}' expected (to close '{' at line 1) near end of file" {
		t.Errorf("include: %s", got)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
