package tend_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules keeps the layout's dependency rules true: the engine knows
// nothing of Lua or the REPL, only vm and stdlib import gopher-lua, the
// supervisord.conf importer (which writes Lua as text) imports neither, and
// the test kit imports no Lua either.
func TestImportRules(t *testing.T) {
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	for _, pkg := range []string{"./supervisor/...", "./repl/...", "./internal/testkit/..."} {
		for _, d := range deps(pkg) {
			if strings.Contains(d, "gopher-lua") && !strings.HasSuffix(d, "gopher-lua/parse") && !strings.HasSuffix(d, "gopher-lua/ast") || strings.Contains(d, "tend/vm") || strings.Contains(d, "tend/stdlib") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
	// The engine's in-package tests import the test kit's base: it must not
	// import the engine (an import cycle) or anything else of tend.
	for _, d := range deps("./internal/testkit") {
		if strings.Contains(d, "tend-sh/tend/") && !strings.HasSuffix(d, "tend/internal/testkit") {
			t.Errorf("internal/testkit depends on %s", d)
		}
	}
	// tend import writes Lua as text; it never needs a Lua state. Nor do
	// the supervisord/supervisorctl command lines (dropin), which only
	// read INI sections.
	for _, d := range slices.Concat(deps("./vm/supervisordconf"), deps("./dropin")) {
		if strings.Contains(d, "gopher-lua") || strings.HasSuffix(d, "tend/vm") {
			t.Errorf("vm/supervisordconf depends on %s", d)
		}
	}
	for _, d := range deps("./supervisor/...") {
		if strings.Contains(d, "peterh/liner") || strings.Contains(d, "tend/repl") || strings.Contains(d, "tend/cmd") ||
			strings.HasSuffix(d, "tend/daemon") {
			t.Errorf("supervisor depends on %s", d)
		}
	}
	// tend top draws what the daemon reports: no Lua, and the daemon only
	// through the interface the command line implements with the client.
	for _, d := range deps("./top") {
		if strings.Contains(d, "gopher-lua") || strings.Contains(d, "peterh/liner") || strings.Contains(d, "tend/repl") ||
			strings.Contains(d, "tend/cmd") || strings.HasSuffix(d, "tend/daemon") || strings.HasSuffix(d, "control/client") {
			t.Errorf("top depends on %s", d)
		}
	}
	// The daemon is what cmd wires; it knows nothing of the client side.
	for _, d := range deps("./daemon") {
		if strings.Contains(d, "peterh/liner") || strings.Contains(d, "tend/repl") || strings.Contains(d, "tend/cmd") {
			t.Errorf("daemon depends on %s", d)
		}
	}
}
