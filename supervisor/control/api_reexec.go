package control

import (
	"context"
	"net/http"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// The re-exec routes (tend reexec): POST starts one and answers just
// before the exec; GET says how the last one went, which is how a client
// learns the outcome once the daemon serves again.
const (
	RouteReexec       = "POST /v1/reexec"
	RouteReexecStatus = "GET /v1/reexec"
)

// ReexecRequest is the body of POST /v1/reexec.
type ReexecRequest struct {
	// Binary is the tend executable to exec; "" is the daemon's own.
	Binary string `json:"binary,omitempty"`
}

// ReexecReply is the answer to POST /v1/reexec: the new binary passed its
// check and the daemon execs it as soon as the answer is sent.
type ReexecReply struct {
	Generation  int    `json:"generation"` // the number of this re-exec (GET tells when it is done)
	Pid         int    `json:"pid"`
	Binary      string `json:"binary"`
	FromVersion string `json:"from_version"`
	ToVersion   string `json:"to_version"` // as the new binary reports it
}

// ReexecStatus is the body of GET /v1/reexec: the daemon's version now and
// the outcome of the last re-exec of this pid (Generation 0: none yet).
type ReexecStatus struct {
	Generation int       `json:"generation"`
	Pid        int       `json:"pid"`
	Version    string    `json:"version"`
	Binary     string    `json:"binary,omitempty"`
	Time       time.Time `json:"time,omitzero"`
	// Error is why the last re-exec failed (the daemon went on as it
	// was); "" when it succeeded.
	Error string `json:"error,omitempty"`
	// WindowMS is how long the daemon did not serve: from when it stopped
	// accepting requests to when the new binary served again.
	WindowMS float64 `json:"window_ms,omitempty"`
}

// Reexecer is the optional side of a Daemon that can exec a new binary in
// place (package daemon implements it).
type Reexecer interface {
	// Reexec checks binary ("" = the daemon's own) and freezes the daemon
	// for the exec. On success the caller answers its client and then
	// calls exec, which does not return unless the exec failed (the
	// daemon then goes on, and ReexecStatus reports why).
	Reexec(ctx context.Context, binary string) (reply ReexecReply, exec func(), err error)
	// ReexecStatus reports the last re-exec.
	ReexecStatus() ReexecStatus
}

func (s *Server) reexecer(w http.ResponseWriter) Reexecer {
	rx, ok := s.opts.Daemon.(Reexecer)
	if !ok {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: "this daemon cannot re-exec"})
	}
	return rx
}

func (s *Server) apiReexec(w http.ResponseWriter, r *http.Request) {
	if s.opts.NoEval {
		// Exec'ing a binary as the daemon's user is offered where eval
		// is, never to whoever can reach an unauthenticated port.
		writeJSON(w, http.StatusForbidden, ErrorReply{Error: NewAPIError(&supervisor.Error{
			Fault: supervisor.FaultFailed, Detail: "re-exec is disabled on a door without authentication"})})
		return
	}
	var req ReexecRequest
	if !decode(w, r, &req) {
		return
	}
	rx := s.reexecer(w)
	if rx == nil {
		return
	}
	reply, exec, err := rx.Reexec(r.Context(), req.Binary)
	if err != nil {
		writeFault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, reply)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // the answer is on the wire before the exec closes the connection
	}
	exec()
}

func (s *Server) apiReexecStatus(w http.ResponseWriter, r *http.Request) {
	rx := s.reexecer(w)
	if rx == nil {
		return
	}
	writeJSON(w, http.StatusOK, rx.ReexecStatus())
}
