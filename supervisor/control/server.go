// Package control is the daemon's door: one HTTP server, on a unix socket
// and optionally on TCP, carrying the JSON API used by the tend CLI and
// REPL (/v1/...), supervisord-compatible XML-RPC (/RPC2, /logtail,
// /mainlogtail), the web page (/) and Prometheus metrics (/metrics).
//
// Every route sits behind one auth gate. Lua is reached only through the
// opaque Daemon.Eval function; this package imports nothing of Lua.
package control

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// SupervisorVersion is the supervisord version whose API and behaviour
// tend implements. XML-RPC's getSupervisorVersion returns it, so
// supervisorctl's version command and clients that gate features on the
// supervisord version keep working; tend's own version is
// Options.Version.
const SupervisorVersion = "4.2.5"

// APIVersion is the XML-RPC API version supervisord reports ("3.0"),
// which supervisorctl checks before nearly every command.
const APIVersion = "3.0"

// Daemon is what the control plane needs from the daemon beyond the engine:
// the config-driven operations. Package daemon implements it over vm and
// the engine.
type Daemon interface {
	// Reread loads the config anew in a fresh Lua state and returns what
	// an update would change, applying nothing.
	Reread(ctx context.Context) ([]supervisor.Change, error)
	// Update loads the config anew and applies it: all groups, or only the
	// named ones. Any config error changes nothing.
	Update(ctx context.Context, groups []string) ([]supervisor.Change, error)
	// Available returns the specs of the config as last read (in use or
	// not), for avail and getAllConfigInfo.
	Available(ctx context.Context) ([]supervisor.Spec, error)
	// Scale sets the number of instances of a program.
	Scale(ctx context.Context, program string, n int) ([]supervisor.Change, error)
	// Eval runs a Lua chunk in the daemon's state and returns what it
	// printed and returned, rendered as text.
	Eval(ctx context.Context, chunk string) (string, error)
	// Globals names the Lua globals of the daemon's state, for the REPL's
	// completion.
	Globals() []string
	// HookStats counts the Lua hook calls made so far, for /metrics.
	HookStats() HookStats
	// Reload re-reads everything, daemon settings included, and restarts
	// all processes (supervisord's reload; not update). It checks that the
	// config loads and returns once the reload has begun.
	Reload() error
	// Shutdown begins the daemon's shutdown and returns at once.
	Shutdown()
	// Pid is the daemon's pid.
	Pid() int
}

// Options configures a Server.
type Options struct {
	Engine  *supervisor.Engine
	Daemon  Daemon
	MainLog *logfile.File // the daemon's own log, for maintail; may be nil
	// Username and Password enable HTTP basic auth on every route. The
	// password may be "{SHA}" followed by the hex SHA-1 of the password.
	Username, Password string
	// Identification is what getIdentification returns ("supervisor").
	Identification string
	// Version is tend's own version (package version), shown on the web
	// page and answered by /v1/version. Empty means "devel".
	Version string
	// NoEval refuses /v1/eval (tend eval and the REPL's Lua). The daemon
	// sets it on a TCP door without credentials: running code as the
	// daemon's user is never offered to anyone who can reach a port.
	NoEval bool
}

// Server serves the control plane. Create it with New and serve it with
// http.Serve on as many listeners as configured.
type Server struct {
	opts Options
	eng  *supervisor.Engine
	mux  *http.ServeMux

	// The status replies, encoded once per change (status.go).
	statusJSON, xrAllInfo replyCache
}

// New returns a server with every route registered.
func New(opts Options) *Server {
	if opts.Identification == "" {
		opts.Identification = "supervisor"
	}
	if opts.Version == "" {
		opts.Version = "devel"
	}
	s := &Server{opts: opts, eng: opts.Engine, mux: http.NewServeMux()}
	s.routesAPI()
	s.routesXMLRPC()
	s.routesWeb()
	s.routesMetrics()
	return s
}

// ServeHTTP refuses cross-site requests (guard.go), applies the auth
// gate, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !guard(w, r) {
		return
	}
	if !s.authorized(r) {
		unauthorized(w)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// RequiresAuth reports whether the server checks credentials.
func (s *Server) RequiresAuth() bool { return s.opts.Username != "" }

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Username == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	return CheckPassword(s.opts.Username, s.opts.Password, user, pass)
}

// CheckPassword compares credentials in constant time. want may be
// "{SHA}hex", in which case the SHA-1 of the given password is compared.
func CheckPassword(wantUser, wantPass, user, pass string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(wantUser), []byte(user)) == 1
	if hexSum, ok := strings.CutPrefix(wantPass, "{SHA}"); ok {
		sum := sha1.Sum([]byte(pass))
		got := hex.EncodeToString(sum[:])
		return subtle.ConstantTimeCompare([]byte(strings.ToLower(hexSum)), []byte(got)) == 1 && userOK
	}
	return subtle.ConstantTimeCompare([]byte(wantPass), []byte(pass)) == 1 && userOK
}

// unauthorized answers as supervisord's medusa server does.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="default"`)
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte("<html><head><title>Error response</title></head><body><h1>Error response</h1><p>Error code 401.<p>Message: Unauthorized.</body></html>"))
}
