package control

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// Issue 16: the daemon's cost of one status request with 1000 programs,
// JSON and XML-RPC getAllProcessInfo, when nothing changed since the last
// request (served from the cache) and when every request comes a second
// after the previous one (encoded anew: what every request cost before
// the cache).
//
//	go test -run '^$' -bench StatusReply -benchmem ./supervisor/control/
func BenchmarkStatusReply(b *testing.B) {
	clock := testkit.NewFakeClock()
	eng := enginekit.New(b, supervisor.Config{Clock: clock})
	specs := make([]supervisor.Spec, 1000)
	for i := range specs {
		specs[i] = enginekit.Sleeper(fmt.Sprintf("w%04d", i))
		specs[i].AutoStart = false
	}
	eng.Load(specs...)
	s := New(Options{Engine: eng.Engine})
	xr := "<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>"
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"json", func() *http.Request { return httptest.NewRequest("GET", "/v1/status", nil) }},
		{"xmlrpc", func() *http.Request {
			r := httptest.NewRequest("POST", "/RPC2", strings.NewReader(xr))
			r.Header.Set("Content-Type", "text/xml")
			return r
		}},
	} {
		for _, fresh := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/fresh=%v", tc.name, fresh), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if fresh {
						clock.Advance(time.Second)
					}
					w := &discardWriter{h: http.Header{}}
					s.ServeHTTP(w, tc.req())
					if w.code != 200 || w.n == 0 {
						b.Fatalf("status %d, %d bytes", w.code, w.n)
					}
				}
			})
		}
	}
}

// discardWriter is a ResponseWriter that counts the body and keeps
// nothing, so a benchmark measures the server rather than a recorder's
// growing buffer.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(200)
	w.n += len(b)
	return len(b), nil
}
