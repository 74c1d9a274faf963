package tend_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocLinksStayInTheRepo: every relative link of a Markdown file names
// a file of the repository, and no document points outside it (a reader
// of the repository alone must be able to follow each one).
func TestDocLinksStayInTheRepo(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	outside := regexp.MustCompile("`(\\.\\./[^`]*)`")
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case d.IsDir() || filepath.Ext(path) != ".md":
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			abs, _ := filepath.Abs(filepath.Join(filepath.Dir(path), target))
			if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %s points outside the repository", path, m[1])
			} else if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s: link %s: %v", path, m[1], err)
			}
		}
		for _, m := range outside.FindAllStringSubmatch(string(data), -1) {
			abs, _ := filepath.Abs(filepath.Join(filepath.Dir(path), m[1]))
			if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: %s names a file outside the repository", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no links checked")
	}
}
