package control

import (
	"context"
	"net/http"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// followMax bounds one read while following: a follower that fell this far
// behind skips ahead rather than buffering the backlog.
const followMax = 1 << 20

// followLog streams a log with chunked transfer, for tail -f (JSON API,
// /logtail and /mainlogtail alike): the last initial bytes, then every byte
// appended, woken by File.Changed rather than by polling. Reads go through
// logfile.File.ReadSince, so a rotation between two wake-ups neither drops
// nor repeats bytes. current returns the log to follow now (a process
// reconfigured with new log settings gets a new File); nil, or the same
// File once closed, ends the stream, as does the client going away.
func followLog(ctx context.Context, w http.ResponseWriter, f *logfile.File, initial int64, current func() *logfile.File) {
	h := w.Header()
	h.Set("Content-Type", "text/plain;charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	changed := f.Changed()
	data, cur, err := f.ReadSince(logfile.Cursor{}, initial)
	if err != nil {
		return
	}
	for {
		if len(data) > 0 {
			if _, err := w.Write(data); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		changed = f.Changed()
		if isClosed(changed) {
			nf := current()
			if nf == nil || nf == f {
				return
			}
			f, cur, changed = nf, logfile.Cursor{}, nf.Changed()
		}
		if data, cur, err = f.ReadSince(cur, followMax); err != nil {
			return
		}
	}
}

// isClosed reports whether ch is already closed (File.Changed after
// Close returns a closed channel).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
