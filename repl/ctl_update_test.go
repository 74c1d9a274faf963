package repl

import (
	"bytes"
	"testing"

	"github.com/tend-sh/tend/supervisor/control"
)

// update says "GROUP: stopped" only for a group it stopped whole; when
// some processes keep running it names the ones it stopped.
func TestPrintUpdate(t *testing.T) {
	for _, c := range []struct {
		name   string
		change control.Change
		want   string
	}{
		{"numprocs lowered", control.Change{Group: "web", Kind: "changed", Removed: []string{"web_3", "web_2"}, Scaled: true, Kept: 2},
			"web:web_2: stopped\nweb:web_3: stopped\nweb: updated process group\n"},
		{"numprocs raised", control.Change{Group: "web", Kind: "changed", Added: []string{"web_2"}, Scaled: true, Kept: 2},
			"web: updated process group\n"},
		{"one instance changed", control.Change{Group: "web", Kind: "changed", Changed: []string{"web_1"}, Kept: 1},
			"web:web_1: stopped\nweb: updated process group\n"},
		{"whole group changed", control.Change{Group: "b", Kind: "changed", Changed: []string{"b"}},
			"b: stopped\nb: updated process group\n"},
		{"group removed", control.Change{Group: "a", Kind: "removed", Removed: []string{"a"}},
			"a: stopped\na: removed process group\n"},
		{"group added", control.Change{Group: "grp", Kind: "added", Added: []string{"c"}},
			"grp: added process group\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			x := &ctl{out: &out, errOut: &out}
			x.printUpdate([]control.Change{c.change})
			if out.String() != c.want {
				t.Errorf("printed %q, want %q", out.String(), c.want)
			}
		})
	}
}
