package control

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tend-sh/tend/supervisor"
)

// followEvents streams the state changes made from now on, one JSON
// StateChange per line, until the client goes away. It is woken by the
// engine's PROCESS_STATE events and reads the entries from the history,
// so a follower that was slow still gets every change the ring holds.
func (s *Server) followEvents(ctx context.Context, w http.ResponseWriter) {
	sub := s.eng.Subscribe(256)
	defer sub.Close()
	var last uint64
	if h := s.eng.History(); len(h) > 0 {
		last = h[len(h)-1].Seq
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/x-ndjson")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			if ev.Type != supervisor.EventProcessState {
				continue
			}
		}
		for _, c := range s.eng.HistorySince(last) {
			if enc.Encode(NewStateChange(c)) != nil {
				return
			}
			last = c.Seq
		}
		if rc.Flush() != nil {
			return
		}
	}
}
