package control

import (
	"net/http"
	"strings"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// logtailInitial is how much of the log a follower gets first, as
// supervisord's tail_f_producer.
const logtailInitial = 1024

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
		nf, _ := s.eng.LogFile(name, channel)
		return nf
	}
	followLog(r.Context(), w, f, logtailInitial, current)
}

// serveMainLogtail streams the daemon's own log (supervisorctl maintail -f).
func (s *Server) serveMainLogtail(w http.ResponseWriter, r *http.Request) {
	f := s.opts.MainLog
	if f == nil || f.PassThrough() {
		http.NotFound(w, r)
		return
	}
	followLog(r.Context(), w, f, logtailInitial, func() *logfile.File { return f })
}
