package control

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// fakeProber is an engine whose answers the test sets.
type fakeProber struct {
	infos    []supervisor.Info
	stopping bool
	stuck    chan struct{} // non-nil: Status blocks until closed
}

func (f *fakeProber) Status() []supervisor.Info {
	if f.stuck != nil {
		<-f.stuck
	}
	return f.infos
}
func (f *fakeProber) ShuttingDown() bool { return f.stopping }

// TestHealth: /healthz and /readyz answer plain text, readiness names what
// is not RUNNING among essential and autostart processes, every other
// path or method is refused.
func TestHealth(t *testing.T) {
	run := supervisor.Info{Name: "web", Group: "web", State: supervisor.Running, AutoStart: true, InUse: true}
	starting := supervisor.Info{Name: "db", Group: "db", State: supervisor.Starting, AutoStart: true, InUse: true}
	manual := supervisor.Info{Name: "tool", Group: "tool", State: supervisor.Stopped, InUse: true}
	essential := supervisor.Info{Name: "main", Group: "main", State: supervisor.Fatal, Essential: true, InUse: true}
	cases := []struct {
		name, method, path string
		p                  *fakeProber
		code               int
		body               string
	}{
		{"alive", "GET", "/healthz", &fakeProber{infos: []supervisor.Info{starting}}, 200, "ok\n"},
		{"head", "HEAD", "/healthz", &fakeProber{}, 200, "ok\n"}, // the server drops it
		{"ready", "GET", "/readyz", &fakeProber{infos: []supervisor.Info{run, manual}}, 200, "ready\n"},
		{"not ready", "GET", "/readyz", &fakeProber{infos: []supervisor.Info{run, starting, manual, essential}}, 503,
			"not ready: db (STARTING), main (FATAL)\n"},
		{"shutting down", "GET", "/healthz", &fakeProber{stopping: true}, 503, "shutting down\n"},
		{"other path", "GET", "/RPC2", &fakeProber{}, 404, "not found\n"},
		{"root", "GET", "/", &fakeProber{}, 404, "not found\n"},
		{"post", "POST", "/healthz", &fakeProber{}, 405, "method not allowed\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			NewHealth(c.p).ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != c.code || string(body) != c.body || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
				t.Errorf("%s %s: %d %q (%s), want %d %q", c.method, c.path, rec.Code, body, rec.Header().Get("Content-Type"), c.code, c.body)
			}
		})
	}
}

// TestHealthUnresponsiveEngine: an engine that does not answer makes
// /healthz fail rather than hang.
func TestHealthUnresponsiveEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("waits healthTimeout")
	}
	p := &fakeProber{stuck: make(chan struct{})}
	defer close(p.stuck)
	srv := httptest.NewServer(NewHealth(p))
	defer srv.Close()
	c := &http.Client{Timeout: healthTimeout + 5*time.Second}
	resp, err := c.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || string(body) != "engine unresponsive\n" {
		t.Errorf("%d %q, want 503 engine unresponsive", resp.StatusCode, body)
	}
}
