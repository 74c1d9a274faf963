package vm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSandboxEscapes runs each escape attempt through Eval: every one must
// fail with an error, and the daemon (this test process) must survive.
func TestSandboxEscapes(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "evil.lua")
	if err := os.WriteFile(outside, []byte("return 'escaped'"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A module in the working directory must not be found by require.
	cwdEvil := "tend_sandbox_evil"
	if err := os.WriteFile(cwdEvil+".lua", []byte("return 'escaped'"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cwdEvil + ".lua") })
	v, _ := loadSource(t, `x = 1`, Options{})
	tests := []struct{ chunk, want string }{
		{`os.exit(3)`, "os.exit is not available in tend's sandbox"},
		{`os.execute("true")`, "os.execute is not available in tend's sandbox (declare a program to run a command)"},
		{`os.setenv("X", "1")`, "os.setenv is not available in tend's sandbox"},
		{`os.remove("/tmp/x")`, "os.remove is not available in tend's sandbox"},
		{`os.rename("/tmp/x", "/tmp/y")`, "os.rename is not available in tend's sandbox"},
		{`os.tmpname()`, "os.tmpname is not available in tend's sandbox"},
		{`io.open("/etc/passwd")`, "io.open is not available in tend's sandbox (the fs module reads files"},
		{`debug.getinfo(1)`, "debug.getinfo is not available in tend's sandbox"},
		{`collectgarbage()`, "collectgarbage is not available in tend's sandbox"},
		{`_printregs()`, "_printregs is not available in tend's sandbox"},
		{`require("os").exit(1)`, "os.exit is not available in tend's sandbox"},
		{`require("io")`, "module io not found"},
		{`require("debug")`, "module debug not found"},
		{`io.write = nil`, "io is not available in tend's sandbox"},
		{`require("` + cwdEvil + `")`, "module " + cwdEvil + " not found"},
		{`require("../evil")`, "not a valid file module name"},
		{`package.loadlib("x", "y")`, "package.loadlib is not available in tend's sandbox"},
		{`dofile("` + outside + `")`, "is outside the configuration folder"},
		{`dofile("../../../etc/passwd")`, "is outside the configuration folder"},
		{`assert(loadfile("` + outside + `"))`, "is outside the configuration folder"},
		{`string.rep("x", 1e9)`, "string.rep: result larger than"},
		{`local function f() return 1 + f() end return f()`, "stack overflow"},
	}
	for _, tt := range tests {
		out, err := v.Eval(context.Background(), tt.chunk)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %q, %v; want an error containing %q", tt.chunk, out, err, tt.want)
		}
	}
	// Still usable, and what remains of os works.
	if out := eval(t, v, "x + 1, type(os.time())"); out != "2\tnumber" {
		t.Errorf("after the escapes: %q", out)
	}
}

// TestSandboxConfigFolder: dofile, loadfile and require work inside it.
func TestSandboxConfigFolder(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua": `a = dofile("a.lua"); b = loadfile("b.lua")(); c = require("c")`,
		"a.lua":    `return 1`,
		"b.lua":    `return 2`,
		"c.lua":    `return 3`,
	})
	v, _, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if out := eval(t, v, "a, b, c"); out != "1\t2\t3" {
		t.Errorf("got %q", out)
	}
}

// TestLoadRunaway: a config that never finishes is stopped by ctx.
func TestLoadRunaway(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": "while true do end"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err := Load(ctx, path, Options{})
	if err == nil || !strings.Contains(err.Error(), "a runaway loop in the config?") {
		t.Fatalf("err = %v", err)
	}
}
