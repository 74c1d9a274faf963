package stdlib

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
)

// TestReadmeExamples keeps the README's Lua examples syntactically valid.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```lua\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < len(Modules()) {
		t.Fatalf("%d Lua examples for %d modules", len(blocks), len(Modules()))
	}
	for i, m := range blocks {
		if _, err := parse.Parse(strings.NewReader(m[1]), "example"); err != nil {
			t.Errorf("example %d: %v", i+1, err)
		}
	}
}
