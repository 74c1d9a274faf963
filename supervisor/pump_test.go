package supervisor

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Many children writing at once through the one pump: every line of every
// child reaches its own log, in order, none lost or duplicated.
func TestPumpManyChildrenNoLoss(t *testing.T) {
	h := newHarness(t)
	const children, lines = 12, 20000
	var specs []Spec
	for i := range children {
		s := h.spec(fmt.Sprintf("w%02d", i), sh(fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "w%02d line $i"; i=$((i+1)); done`, lines, i))...)
		s.StartSecs = 0
		s.AutoRestart = RestartNever
		s.Stdout.Path = h.file(s.Name + ".log")
		s.Stdout.MaxBytes = 0
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, s := range specs {
		name := s.Name
		got := h.waitFile(h.file(name+".log"), fmt.Sprintf("%s line %d\n", name, lines-1), 60*time.Second)
		all := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(all) != lines {
			t.Fatalf("%s: %d lines, want %d", name, len(all), lines)
		}
		for i, l := range all {
			if want := fmt.Sprintf("%s line %d", name, i); l != want {
				t.Fatalf("%s: line %d is %q, want %q", name, i, l, want)
			}
		}
	}
}
