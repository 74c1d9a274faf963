package vm

import (
	"fmt"
	"strings"
	"testing"
)

// manyBlocks returns n one-line program blocks, p0 … p<n-1>.
func manyBlocks(n int) string { return namedBlocks("p", n) }

// namedBlocks returns n one-line program blocks named prefix0 … .
func namedBlocks(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "program \"%s%d\" { command = \"sleep %d\" }\n", prefix, i, 1000+i)
	}
	return b.String()
}

// TestSplitChunkBoundsConstants: a long file of literal blocks compiles
// into wrappers holding a few dozen blocks each, so no function has
// thousands of constants to scan (the quadratic compile).
func TestSplitChunkBoundsConstants(t *testing.T) {
	proto, err := compileSource([]byte(manyBlocks(1000)), "tend.lua")
	if err != nil {
		t.Fatal(err)
	}
	most := len(proto.Constants)
	for _, p := range proto.FunctionPrototypes {
		most = max(most, len(p.Constants))
	}
	if most > 4*splitRun {
		t.Fatalf("a function of the chunk has %d constants, want at most %d", most, 4*splitRun)
	}
}

// TestSplitChunkKeepsMeaning: locals declared between the blocks stay
// visible to the blocks after them and assignments in a wrapped run
// reach them; what cannot be moved (..., return) keeps working.
func TestSplitChunkKeepsMeaning(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      map[string]string // program -> command
	}{
		{"locals", "local cmd = 'a'\n" + manyBlocks(40) + "cmd = 'b'\nx = cmd\n" + namedBlocks("q", 40) +
			"program 'last' { command = cmd .. x }\n", map[string]string{"p0": "sleep 1000", "last": "bb"}},
		{"upvalue assigned in a run", "local n = 0\n" + strings.Repeat("n = n + 1\n", 70) +
			"program 'n' { command = 'sleep ' .. n }\n", map[string]string{"n": "sleep 70"}},
		{"varargs", "local a = select('#', ...)\n" + manyBlocks(40) + "program 'v' { command = 'sleep ' .. a }\n",
			map[string]string{"v": "sleep 0"}},
		{"return", manyBlocks(40) + "do return end\n", map[string]string{"p39": "sleep 1039"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg := loadSource(t, tc.src, Options{})
			got := map[string]string{}
			for _, s := range cfg.Specs {
				got[s.Name] = s.CommandLine
			}
			for name, cmd := range tc.want {
				if got[name] != cmd {
					t.Errorf("%s: command %q, want %q", name, got[name], cmd)
				}
			}
		})
	}
}

// TestSplitChunkErrorLines: errors in a split chunk still name the line
// of the block at fault, both from the declaration and from Lua itself.
func TestSplitChunkErrorLines(t *testing.T) {
	for _, tc := range []struct{ name, bad, want string }{
		{"option", "program \"bad\" { command = \"x\", startsecs = \"soon\" }\n", "tend.lua:901:"},
		{"runtime", "program \"bad\" { command = nil .. \"x\" }\n", "tend.lua:901:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := manyBlocks(900) + tc.bad + namedBlocks("q", 50)
			if msg := loadError(t, map[string]string{"tend.lua": src}); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not name %s", msg, tc.want)
			}
		})
	}
}
