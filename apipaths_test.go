package tend_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIPathsOnlyInClientAndServer keeps the JSON API's paths in two
// places: the server (supervisor/control/api*.go, where the route
// constants live, and the server's own tests, which send raw requests to
// test its door), the typed client (supervisor/control/client), and the
// torture harness (scripts/soak), which attacks the door from outside with
// raw and hostile requests.
// Everything else goes through the client's methods.
func TestAPIPathsOnlyInClientAndServer(t *testing.T) {
	needle := `"` + "/v" + "1/" // spelled apart so this file does not match
	allowed := func(path string) bool {
		dir, file := filepath.Split(path)
		return dir == "supervisor/control/client/" || dir == "scripts/soak/" ||
			dir == "supervisor/control/" && (strings.HasPrefix(file, "api") || strings.HasSuffix(file, "_test.go"))
	}
	texts := map[string]bool{".go": true, ".js": true, ".html": true, ".lua": true, ".md": true, ".sh": true}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case d.IsDir() || !texts[filepath.Ext(path)] || allowed(path):
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, needle) {
				t.Errorf("%s:%d: API path outside the client and server: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestREPLTalksThroughTheClient keeps repl a formatter: it reaches the
// daemon only through package client, never with HTTP of its own.
func TestREPLTalksThroughTheClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "./repl").Output()
	if err != nil {
		t.Fatalf("go list ./repl: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "net/http" || imp == "net/url" || imp == "encoding/json" {
			t.Errorf("repl imports %s; requests belong in supervisor/control/client", imp)
		}
	}
}
