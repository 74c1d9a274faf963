package control

import (
	"net/http"
	"strconv"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// Default byte counts: supervisorctl tail reads the last 1600 bytes, and a
// followed tail starts with the last 1024 as supervisord's /logtail does.
const (
	defaultTailBytes   = 1600
	defaultFollowBytes = 1024
)

// tailParams parses bytes= and follow= of a tail request.
func tailParams(w http.ResponseWriter, r *http.Request) (n int64, follow, ok bool) {
	q := r.URL.Query()
	follow = q.Get("follow") == "1" || q.Get("follow") == "true"
	n = defaultTailBytes
	if follow {
		n = defaultFollowBytes
	}
	if b := q.Get("bytes"); b != "" {
		v, err := strconv.ParseInt(b, 10, 64)
		if err != nil || v < 0 {
			writeFault(w, &supervisor.Error{Fault: supervisor.FaultBadArguments, Detail: "bytes=" + b})
			return 0, false, false
		}
		n = v
	}
	return n, follow, true
}

func (s *Server) apiTail(w http.ResponseWriter, r *http.Request) {
	n, follow, ok := tailParams(w, r)
	if !ok {
		return
	}
	name, channel := r.URL.Query().Get("name"), r.URL.Query().Get("channel")
	if channel == "" {
		channel = "stdout"
	}
	if !follow {
		data, err := s.eng.ReadLog(name, channel, -n, 0)
		if err != nil {
			writeFault(w, err)
			return
		}
		writeText(w, data)
		return
	}
	f, err := s.eng.LogFile(name, channel)
	if err != nil {
		writeFault(w, err)
		return
	}
	followLog(r.Context(), w, f, n, func() *logfile.File {
		nf, _ := s.eng.LogFile(name, channel)
		return nf
	})
}

func (s *Server) apiMainTail(w http.ResponseWriter, r *http.Request) {
	n, follow, ok := tailParams(w, r)
	if !ok {
		return
	}
	f := s.opts.MainLog
	if f == nil {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultNoFile, Detail: "supervisord"})
		return
	}
	if !follow {
		data, err := f.Read(-n, 0)
		if err != nil {
			writeFault(w, &supervisor.Error{Fault: supervisor.FaultNoFile, Detail: "supervisord: " + err.Error()})
			return
		}
		writeText(w, data)
		return
	}
	followLog(r.Context(), w, f, n, func() *logfile.File { return nil })
}

func writeText(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}
