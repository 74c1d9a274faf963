package control

import (
	"context"
	"net/http"
	"strings"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// logtailInitial is how much of the log a follower gets first, as
// supervisord's tail_f_producer.
const logtailInitial = 1024

// logtailChunk bounds one read while following, so a burst of output is
// streamed in pieces rather than buffered whole.
const logtailChunk = 64 << 10

// serveLogtail streams a process log as supervisord's /logtail/NAME[/CHANNEL]
// does (supervisorctl tail -f): the last 1024 bytes, then whatever is
// written, until the client goes away or the log is closed. An unknown
// process, or one without a log file, is a 404.
func (s *Server) serveLogtail(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimLeft(strings.TrimPrefix(r.URL.Path, "/logtail"), "/")
	name, channel, _ := strings.Cut(rest, "/")
	if channel == "" {
		channel = "stdout"
	}
	if channel != "stdout" && channel != "stderr" {
		http.NotFound(w, r)
		return
	}
	f, err := s.eng.LogFile(name, channel)
	if err != nil || f.PassThrough() {
		http.NotFound(w, r)
		return
	}
	current := func() *logfile.File {
		nf, err := s.eng.LogFile(name, channel)
		if err != nil {
			return nil
		}
		return nf
	}
	xrFollowLog(r.Context(), w, f, current)
}

// serveMainLogtail streams the daemon's own log (supervisorctl maintail -f).
func (s *Server) serveMainLogtail(w http.ResponseWriter, r *http.Request) {
	f := s.opts.MainLog
	if f == nil || f.PassThrough() {
		http.NotFound(w, r)
		return
	}
	xrFollowLog(r.Context(), w, f, func() *logfile.File { return f })
}

// xrFollowLog writes the end of f and then follows it, woken by
// f.Changed() rather than by polling. current returns the log to follow
// now (a process restarted with new log settings gets a new File), or nil
// when there is none any more, which ends the stream, as does a closed log.
func xrFollowLog(ctx context.Context, w http.ResponseWriter, f *logfile.File, current func() *logfile.File) {
	h := w.Header()
	h.Set("Content-Type", "text/plain;charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	changed := f.Changed()
	data, off, _, err := f.Tail(0, logtailInitial)
	if err != nil {
		return
	}
	if len(data) > 0 {
		if _, err := w.Write(data); err != nil {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		nf := current()
		if nf == nil {
			return
		}
		if nf != f {
			if nf.Path() != f.Path() {
				off = 0
			}
			f = nf
		}
		changed = f.Changed()
		select {
		case <-changed:
			// A freshly obtained channel that is already closed means the
			// log was closed: nothing more will come.
			if current() == f {
				return
			}
		default:
		}
		for {
			size := f.Size()
			if size < off {
				off = 0 // rotated or cleared
			}
			if size == off {
				break
			}
			data, err := f.Read(off, min(size-off, logtailChunk))
			if err != nil || len(data) == 0 {
				break
			}
			off += int64(len(data))
			if _, err := w.Write(data); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}
