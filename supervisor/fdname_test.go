package supervisor

import (
	"regexp"
	"strings"
	"testing"
)

// TestCheckSocketName: names are what systemd takes as a
// FileDescriptorName, the rule the regexp ^[!-9;-~]{1,255}$ states.
func TestCheckSocketName(t *testing.T) {
	rule := regexp.MustCompile(`^[!-9;-~]{1,255}$`)
	for _, name := range []string{
		"http", "a", "web-1.sock", "x_y=z", strings.Repeat("n", 255), "~!",
		"", "a:b", "a b", "tab\t", "é", strings.Repeat("n", 256), "\x7f", "new\nline",
	} {
		want := rule.MatchString(name)
		if got := CheckSocketName(name) == nil; got != want {
			t.Errorf("CheckSocketName(%q) accepts: %v, want %v", name, got, want)
		}
	}
}
