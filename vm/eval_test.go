package vm

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEval(t *testing.T) {
	v, _ := loadSource(t, `greeting = "hi"; t = { 1, 2, name = "x", nested = { a = true } }`, Options{})
	tests := []struct{ chunk, want string }{
		{"1 + 1", "2\n"},
		{"greeting, 42, nil, true", "hi\t42\tnil\ttrue\n"},
		{"t", `{ 1, 2, name = "x", nested = { a = true } }` + "\n"},
		{"{}", "{}\n"},
		{`print("a", 1) print("b")`, "a\t1\nb\n"},
		{`print("side") return 7`, "side\n7\n"},
		{"y = 5", ""},
		{"y * 2", "10\n"},
		{"string.format('%05.1f', 3.14159)", "003.1\n"},
		{"local c = {}; c.self = c; return c", "{ self = <cycle> }\n"},
	}
	for _, tt := range tests {
		got, err := v.Eval(context.Background(), tt.chunk)
		if err != nil || got != tt.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", tt.chunk, got, err, tt.want)
		}
	}
	long, err := v.Eval(context.Background(), `{ alpha = "aaaaaaaaaaaaaaaa", beta = "bbbbbbbbbbbbbbbbbbbb", gamma = { 1, 2, 3 }, delta = "dddddddd" }`)
	if err != nil || !strings.Contains(long, "{\n  alpha = \"aaaaaaaaaaaaaaaa\",\n") {
		t.Errorf("long table rendered %q, %v", long, err)
	}
}

func TestEvalErrors(t *testing.T) {
	v, _ := loadSource(t, `x = 1`, Options{HookTimeout: 200 * time.Millisecond})
	if _, err := v.Eval(context.Background(), "x = = 2"); err == nil || err.Error() != "eval:1: syntax error near '='" {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := v.Eval(context.Background(), "error('bad')"); err == nil || err.Error() != "eval:1: bad" {
		t.Errorf("runtime error: %v", err)
	}
	start := time.Now()
	_, err := v.Eval(context.Background(), "while true do end")
	if err == nil || err.Error() != "eval: cancelled at eval:1: the chunk was still running after 200ms (a runaway loop?)" {
		t.Errorf("runaway: %v", err)
	}
	// A context deadline overrides the default.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := v.Eval(ctx, "while true do end"); err == nil || !strings.Contains(err.Error(), "eval: cancelled") {
		t.Errorf("runaway with ctx: %v", err)
	}
	t.Logf("runaway chunk cancelled after %s", time.Since(start))
	// The state is still usable and kept its globals.
	if out := eval(t, v, "x + 1"); out != "2" {
		t.Errorf("after cancel: %q", out)
	}
	out, err := v.Eval(context.Background(), `print("kept") error("then failed")`)
	if err == nil || out != "kept\n" {
		t.Errorf("failing chunk: %q, %v; want the printed line kept with the error", out, err)
	}
}

func TestGlobals(t *testing.T) {
	v, _ := loadSource(t, `myvar = 1`, Options{})
	g := v.Globals()
	for _, want := range []string{"myvar", "program", "print", "string", "require"} {
		if !contains(g, want) {
			t.Errorf("Globals() lacks %q: %v", want, g)
		}
	}
	for _, bad := range []string{"io", "debug", "collectgarbage"} {
		if contains(g, bad) {
			t.Errorf("Globals() has %q", bad)
		}
	}
}

func TestClosedVM(t *testing.T) {
	v, _, err := Load(context.Background(), writeConfig(t, map[string]string{"tend.lua": "x = 1"}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	v.Close()
	if _, err := v.Eval(context.Background(), "1"); err == nil {
		t.Error("Eval on a closed VM succeeded")
	}
	if g := v.Globals(); !reflect.DeepEqual(g, []string(nil)) {
		t.Errorf("Globals on a closed VM = %v", g)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
