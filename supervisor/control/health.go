package control

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// healthTimeout is how long /healthz waits for the engine to answer before
// calling it unresponsive.
const healthTimeout = 2 * time.Second

// Prober is what the probe handler asks: the engine.
type Prober interface {
	Status() []supervisor.Info
	ShuttingDown() bool
}

// NewHealth returns the orchestrator's probe handler (daemon{ health }):
// GET or HEAD /healthz answers 200 "ok" while the engine answers within
// healthTimeout and is not shutting down; /readyz answers 200 "ready" when
// every essential or autostart process is RUNNING, else 503 naming those
// that are not. Plain text, nothing else is served and nothing secret is
// said, so it needs no credentials; it is a handler of its own, apart from
// the control door.
func NewHealth(p Prober) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		infos, ok := statusWithin(p, healthTimeout)
		switch {
		case !ok:
			http.Error(w, "engine unresponsive", http.StatusServiceUnavailable)
		case p.ShuttingDown():
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
		case r.URL.Path == "/healthz":
			fmt.Fprintln(w, "ok")
		default:
			if waiting := notReady(infos); len(waiting) > 0 {
				http.Error(w, "not ready: "+strings.Join(waiting, ", "), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ready")
		}
	})
}

// statusWithin asks p for its status, giving up after d.
func statusWithin(p Prober, d time.Duration) ([]supervisor.Info, bool) {
	ch := make(chan []supervisor.Info, 1)
	go func() { ch <- p.Status() }()
	select {
	case infos := <-ch:
		return infos, true
	case <-time.After(d):
		return nil, false
	}
}

// notReady names the essential or autostart processes not RUNNING, with
// their state.
func notReady(infos []supervisor.Info) []string {
	var out []string
	for _, i := range infos {
		if (i.Essential || i.AutoStart) && i.InUse && i.State != supervisor.Running {
			out = append(out, i.Namespec()+" ("+i.State.String()+")")
		}
	}
	return out
}
