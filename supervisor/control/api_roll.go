package control

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/tend-sh/tend/supervisor"
)

// apiRoll runs a rolling restart and streams its progress: a RollLine with
// the step as each instance is done, then the outcome. The name and the
// limits are checked first and refused with an error status, as other
// requests are; once the stream has begun, a failure is its last line.
// The roll lives as long as the request: a client that goes away (Ctrl-C)
// interrupts it, which stops the replacements still starting and leaves
// the old runs of the instances not yet rolled serving.
func (s *Server) apiRoll(w http.ResponseWriter, r *http.Request) {
	var req RollRequest
	if !decode(w, r, &req) {
		return
	}
	opts := req.Options()
	if opts.MaxSurge < 0 || opts.MaxUnavailable < 0 || opts.MaxSurge+opts.MaxUnavailable == 0 {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultBadArguments,
			Detail: "max_surge and max_unavailable must be >= 0 and not both 0"})
		return
	}
	t := supervisor.ParseTarget(req.Name)
	if _, err := s.eng.Targets(t); err != nil {
		writeFault(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/x-ndjson")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	var mu sync.Mutex // Progress is called one at a time; the last line follows Roll
	enc := json.NewEncoder(w)
	send := func(l RollLine) {
		mu.Lock()
		defer mu.Unlock()
		if enc.Encode(l) == nil {
			rc.Flush()
		}
	}
	opts.Progress = func(st supervisor.RollStep) {
		ws := NewRollStep(st)
		send(RollLine{Step: &ws})
	}
	if err := s.eng.Roll(r.Context(), t, opts); err != nil {
		send(RollLine{Error: NewAPIError(err)})
		return
	}
	send(RollLine{Done: true})
}
