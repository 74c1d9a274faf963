package repl

import (
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/tend-sh/tend/supervisor/control"
)

// BenchmarkPrintStatuses is the formatting of tend status's table of n
// processes.
func BenchmarkPrintStatuses(b *testing.B) {
	for _, n := range []int{200, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			infos := make([]control.ProcessInfo, n)
			for i := range infos {
				infos[i] = control.ProcessInfo{Name: "w_" + strconv.Itoa(i), Group: "w", State: 20, StateName: "RUNNING",
					Description: fmt.Sprintf("pid %d, uptime 0:01:38", 18100+i)}
			}
			x := &ctl{out: io.Discard}
			b.ReportAllocs()
			for b.Loop() {
				x.printStatuses(infos)
			}
		})
	}
}
