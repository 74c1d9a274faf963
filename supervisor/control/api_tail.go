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
	follower := func(old *logfile.File) *logfile.File {
		nf, err := s.eng.LogFile(name, channel)
		if err != nil || nf == old {
			return nil
		}
		return nf
	}
	s.follow(w, r, f, n, follower)
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
	s.follow(w, r, f, n, func(*logfile.File) *logfile.File { return nil })
}

func writeText(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// follow streams f with chunked transfer: its last n bytes, then every
// byte appended, woken by File.Changed (no polling), until the client goes
// away. When f is closed (the process was removed or reconfigured), next
// supplies its replacement, or nil to end the stream.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, f *logfile.File, n int64,
	next func(*logfile.File) *logfile.File) {
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	changed := f.Changed()
	data, err := f.Read(-n, 0)
	if err != nil {
		return
	}
	offset := f.Size()
	if len(data) > 0 {
		w.Write(data)
	}
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		}
		changed = f.Changed()
		size := f.Size()
		if size < offset { // rotated or cleared: start over on the new file
			offset = 0
		}
		if size > offset {
			data, err := f.Read(offset, size-offset)
			if err != nil {
				return
			}
			offset += int64(len(data))
			if _, err := w.Write(data); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			continue
		}
		if isClosed(changed) {
			nf := next(f)
			if nf == nil {
				return
			}
			f, offset, changed = nf, 0, nf.Changed()
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
