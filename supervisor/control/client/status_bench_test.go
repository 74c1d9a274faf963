package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor/control"
)

// statusFixture is a status reply of n running processes as the daemon
// encodes it: one group of numbered processes with pids, times and log
// files, the shape of compare.py's benchmark config.
func statusFixture(tb testing.TB, n int) []byte {
	tb.Helper()
	r := control.StatusReply{Processes: make([]control.ProcessInfo, n)}
	for i := range r.Processes {
		r.Processes[i] = control.ProcessInfo{Name: "w_" + strconv.Itoa(i), Group: "w", State: 20, StateName: "RUNNING",
			Description: fmt.Sprintf("pid %d, uptime 0:01:38", 18100+i), Pid: 18100 + i,
			Start: 1796337701, Now: 1796337800, StdoutLogfile: fmt.Sprintf("/tmp/bench/logs/w_%d.log", i)}
	}
	data, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkStatus is Client.Status of n processes over a unix socket from
// a server that answers with a canned reply: the client's share of tend
// status (request, reading and decoding the reply).
func BenchmarkStatus(b *testing.B) {
	for _, n := range []int{200, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			data := statusFixture(b, n)
			sock := testkit.ServeUnix(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				w.Write(data)
			}))
			c, err := New("unix://"+sock, "", "")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				infos, err := c.Status(context.Background())
				if err != nil || len(infos) != n {
					b.Fatalf("Status: %d processes, %v", len(infos), err)
				}
			}
		})
	}
}

// BenchmarkDecodeStatus is the decoding of a status reply of n processes
// alone.
func BenchmarkDecodeStatus(b *testing.B) {
	for _, n := range []int{200, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			data := statusFixture(b, n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				count := 0
				if err := decodeStatus(bytes.NewReader(data), func(control.ProcessInfo) { count++ }); err != nil || count != n {
					b.Fatalf("decode: %d processes, %v", count, err)
				}
			}
		})
	}
}
