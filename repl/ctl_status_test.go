package repl

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// BenchmarkPrintStatuses is the formatting of tend status's table of n
// processes.
func BenchmarkPrintStatuses(b *testing.B) {
	for _, n := range []int{200, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var rows statusRows
			for i := range n {
				rows.add(control.ProcessInfo{Name: "w_" + strconv.Itoa(i), Group: "w", State: 20, StateName: "RUNNING",
					Description: fmt.Sprintf("pid %d, uptime 0:01:38", 18100+i)})
			}
			x := &ctl{out: io.Discard}
			b.ReportAllocs()
			for b.Loop() {
				x.printStatuses(&rows)
			}
		})
	}
}

// TestPrintStatuses: the status lines are supervisorctl's template,
// '%(namespec)-<maxlen+3>s%(state)-10s%(desc)s' with maxlen the longest
// namespec in bytes and at least 30, padded in runes as fmt pads: short
// and long names, a process named as its group, and text beyond ASCII.
func TestPrintStatuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		infos []control.ProcessInfo
	}{
		{"none", nil},
		{"short names", []control.ProcessInfo{
			{Name: "web", Group: "web", StateName: "RUNNING", Description: "pid 7, uptime 0:00:01"},
			{Name: "w_0", Group: "w", StateName: "STOPPED", Description: "Not started"},
		}},
		{"a name longer than 30", []control.ProcessInfo{
			{Name: "a_very_long_process_name_of_the_group", Group: "g", StateName: "BACKOFF", Description: "Exited too quickly"},
			{Name: "b", Group: "g", StateName: "RUNNING"},
		}},
		{"more than one write", func() (infos []control.ProcessInfo) {
			for i := range 3000 {
				infos = append(infos, control.ProcessInfo{Name: "p" + strconv.Itoa(i), Group: "g", StateName: "RUNNING", Description: "pid 1, uptime 0:00:01"})
			}
			return infos
		}()},
		{"beyond ASCII", []control.ProcessInfo{
			{Name: "café", Group: "café", StateName: "FATAL", Description: "can't find command 'é'"},
			{Name: "ünïcödé_ünïcödé_ünïcödé_ünïcödé", Group: "g", StateName: "ÉTAT", Description: "✓"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxlen := 30
			for _, i := range tc.infos {
				maxlen = max(maxlen, len(supervisor.Namespec(i.Group, i.Name)))
			}
			var want strings.Builder
			for _, i := range tc.infos {
				fmt.Fprintf(&want, "%-*s%-10s%s\n", maxlen+3, supervisor.Namespec(i.Group, i.Name), i.StateName, i.Description)
			}
			var rows statusRows
			for _, i := range tc.infos {
				rows.add(i)
			}
			var got bytes.Buffer
			(&ctl{out: &got}).printStatuses(&rows)
			if got.String() != want.String() {
				t.Fatalf("got\n%q\nwant\n%q", got.String(), want.String())
			}
		})
	}
}
