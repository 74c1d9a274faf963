package control

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/tend-sh/tend/supervisor"
)

// The JSON API under /v1/ used by the tend CLI and REPL. Every reply is
// JSON (tail and maintail stream plain text); every error is an
// ErrorReply carrying the supervisord fault, so the client prints
// supervisorctl's texts.
//
//	GET  /v1/status                      StatusReply
//	POST /v1/start|stop|signal|pid|clear NamesRequest → NamesReply
//	POST /v1/restart                     NamesRequest → RestartReply
//	GET  /v1/avail                       AvailReply
//	GET  /v1/tail?name=&channel=&bytes=&follow=1   text (chunked when following)
//	GET  /v1/maintail?bytes=&follow=1    text
//	POST /v1/reread                      ChangesReply
//	POST /v1/update                      UpdateRequest → ChangesReply
//	POST /v1/reload, /v1/shutdown        OKReply
//	GET  /v1/version                     VersionReply
//	POST /v1/scale                       ScaleRequest → ChangesReply
//	POST /v1/eval                        EvalRequest → EvalReply
//	GET  /v1/complete                    CompleteReply
//	POST /v1/add, /v1/remove             NamesRequest (group names) → NamesReply
//	POST /v1/stdin                       StdinRequest → OKReply
//	POST /v1/roll                        RollRequest → RollLine per line (streamed)
//	GET  /v1/usage                       UsageReply (samples every process tree)
//	GET  /v1/usage/history?name=&since=  UsageHistoryReply
//	GET  /v1/events?name=&follow=1       EventsReply (NDJSON StateChange lines when following)
//	GET  /v1/config?name=                ProcessConfig
//	POST /v1/reexec                      ReexecRequest → ReexecReply (then the exec)
//	GET  /v1/reexec                      ReexecStatus

// maxRequestBody bounds a JSON request (an eval chunk is the largest).
const maxRequestBody = 4 << 20

// routesAPI registers the JSON API.
func (s *Server) routesAPI() {
	s.mux.HandleFunc(RouteStatus, s.apiStatus)
	s.mux.HandleFunc(RouteStart, s.apiNames(s.startName))
	s.mux.HandleFunc(RouteStop, s.apiNames(s.stopName))
	s.mux.HandleFunc(RouteSignal, s.apiNames(s.signalName))
	s.mux.HandleFunc(RoutePid, s.apiPid)
	s.mux.HandleFunc(RouteClear, s.apiNames(s.clearName))
	s.mux.HandleFunc(RouteRestart, s.apiRestart)
	s.mux.HandleFunc(RouteAvail, s.apiAvail)
	s.mux.HandleFunc(RouteTail, s.apiTail)
	s.mux.HandleFunc(RouteMainTail, s.apiMainTail)
	s.mux.HandleFunc(RouteReread, s.apiReread)
	s.mux.HandleFunc(RouteUpdate, s.apiUpdate)
	s.mux.HandleFunc(RouteReload, s.apiReload)
	s.mux.HandleFunc(RouteShutdown, s.apiShutdown)
	s.mux.HandleFunc(RouteVersion, s.apiVersion)
	s.mux.HandleFunc(RouteScale, s.apiScale)
	s.mux.HandleFunc(RouteEval, s.apiEval)
	s.mux.HandleFunc(RouteComplete, s.apiComplete)
	s.mux.HandleFunc(RouteAdd, s.apiAdd)
	s.mux.HandleFunc(RouteRemove, s.apiRemove)
	s.mux.HandleFunc(RouteStdin, s.apiStdin)
	s.mux.HandleFunc(RouteUsage, s.apiUsage)
	s.mux.HandleFunc(RouteEvents, s.apiEvents)
	s.mux.HandleFunc(RouteRoll, s.apiRoll)
	s.mux.HandleFunc(RouteUsageHistory, s.apiUsageHistory)
	s.mux.HandleFunc(RouteConfig, s.apiConfig)
	s.mux.HandleFunc(RouteReexec, s.apiReexec)
	s.mux.HandleFunc(RouteReexecStatus, s.apiReexecStatus)
	s.mux.HandleFunc(APIPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &APIError{Code: int(supervisor.FaultUnknownMethod),
			Name: supervisor.FaultUnknownMethod.String(), Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(ErrorReply{Error: &APIError{Code: int(supervisor.FaultFailed),
			Name: supervisor.FaultFailed.String(), Message: "encode reply: " + err.Error()}})
	}
	data = append(data, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data)
}

// writeError writes an ErrorReply.
func writeError(w http.ResponseWriter, status int, e *APIError) {
	writeJSON(w, status, ErrorReply{Error: e})
}

// writeFault writes err as an ErrorReply with the HTTP status its fault
// suggests.
func writeFault(w http.ResponseWriter, err error) {
	e := NewAPIError(err)
	writeError(w, httpStatus(e.Fault()), e)
}

// httpStatus maps a fault to an HTTP status (informative only: clients go
// by the fault code).
func httpStatus(f supervisor.Fault) int {
	switch f {
	case supervisor.FaultBadName, supervisor.FaultNoFile:
		return http.StatusNotFound
	case supervisor.FaultIncorrectParameters, supervisor.FaultBadArguments, supervisor.FaultBadSignal:
		return http.StatusBadRequest
	case supervisor.FaultShutdownState:
		return http.StatusServiceUnavailable
	case supervisor.FaultAlreadyStarted, supervisor.FaultNotRunning, supervisor.FaultAlreadyAdded,
		supervisor.FaultStillRunning:
		return http.StatusConflict
	case supervisor.FaultCantReread:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// badRequest answers a request the server cannot parse.
func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, &APIError{Code: int(supervisor.FaultIncorrectParameters),
		Name: supervisor.FaultIncorrectParameters.String(), Message: fmt.Sprintf(format, args...)})
}

// decode reads a JSON request body into v. An empty body leaves v as is.
// On failure it answers 400 and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		badRequest(w, "malformed JSON request to %s: %v", r.URL.Path, err)
		return false
	}
	return true
}

// daemon returns the Daemon, or answers FAILED when the server has none.
func (s *Server) daemon(w http.ResponseWriter) Daemon {
	if s.opts.Daemon == nil {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: "no daemon attached"})
	}
	return s.opts.Daemon
}

// apiStatus answers from the cached encoding while nothing has changed
// (see replyCache). With name=NAME|GROUP:* parameters it carries only the
// processes they designate (in status order; a name that designates
// nothing is left for the client to report).
func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	if names := r.URL.Query()["name"]; len(names) > 0 {
		out := StatusReply{Processes: []ProcessInfo{}}
		for _, i := range s.eng.Status() {
			if designated(i, names) {
				out.Processes = append(out.Processes, NewProcessInfo(i))
			}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	body := s.statusJSON.get(s.eng, func(infos []supervisor.Info) []byte {
		out := StatusReply{Processes: make([]ProcessInfo, 0, len(infos))}
		for _, i := range infos {
			out.Processes = append(out.Processes, NewProcessInfo(i))
		}
		data, err := json.Marshal(out)
		if err != nil {
			return nil // not cached: writeJSON reports the error
		}
		return append(data, '\n')
	})
	if body == nil {
		writeJSON(w, http.StatusOK, StatusReply{})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// designated reports whether one of names ("all", "NAME", "GROUP:NAME" or
// "GROUP:*") designates the process i.
func designated(i supervisor.Info, names []string) bool {
	for _, name := range names {
		if name == "all" {
			return true
		}
		if t := supervisor.ParseTarget(name); i.Group == t.Group && (t.Process == "" || i.Name == t.Process) {
			return true
		}
	}
	return false
}

// apiUsage samples every process tree now: the request is what asks for
// the figures, so nothing samples while nobody looks.
func (s *Server) apiUsage(w http.ResponseWriter, r *http.Request) {
	infos := s.eng.Status()
	us := s.eng.Usage(infos)
	out := UsageReply{Processes: make([]ProcessUsage, 0, len(infos))}
	for n, i := range infos {
		out.Processes = append(out.Processes, NewProcessUsage(i, us[n]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("follow") == "1" {
		s.followEvents(r.Context(), w)
		return
	}
	h := s.eng.History()
	name := r.URL.Query().Get("name")
	out := EventsReply{Events: make([]StateChange, 0, len(h))}
	for _, c := range h {
		if name == "" || supervisor.Namespec(c.Group, c.Process) == name {
			out.Events = append(out.Events, NewStateChange(c))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, VersionReply{Version: s.opts.Version, SupervisorVersion: SupervisorVersion, APIVersion: APIVersion})
}

func (s *Server) apiAvail(w http.ResponseWriter, r *http.Request) {
	d := s.daemon(w)
	if d == nil {
		return
	}
	specs, err := d.Available(r.Context())
	if err != nil {
		writeFault(w, err)
		return
	}
	inUse := map[string]bool{}
	for _, sp := range s.eng.Specs() {
		inUse[sp.Namespec()] = true
	}
	// Sorted by name, as supervisord's getAllConfigInfo sorts them.
	specs = slices.Clone(specs)
	slices.SortStableFunc(specs, func(a, b supervisor.Spec) int { return cmp.Compare(a.Name, b.Name) })
	out := AvailReply{Processes: make([]ConfigInfo, 0, len(specs))}
	for _, sp := range specs {
		out.Processes = append(out.Processes, ConfigInfo{Name: sp.Name, Group: sp.Group,
			InUse: inUse[sp.Namespec()], AutoStart: sp.AutoStart, Priority: sp.Priority, GroupPriority: sp.GroupPriority})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiComplete(w http.ResponseWriter, r *http.Request) {
	out := CompleteReply{Processes: []string{}, Globals: []string{}}
	seen := map[string]bool{}
	var groups []string
	for _, i := range s.eng.Status() {
		out.Processes = append(out.Processes, i.Namespec())
		if !seen[i.Group] {
			seen[i.Group] = true
			groups = append(groups, i.Group+":*")
		}
	}
	out.Processes = append(out.Processes, groups...)
	if s.opts.Daemon != nil {
		out.Globals = append(out.Globals, s.opts.Daemon.Globals()...)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiReread(w http.ResponseWriter, r *http.Request) {
	d := s.daemon(w)
	if d == nil {
		return
	}
	changes, err := d.Reread(r.Context())
	if err != nil {
		writeFault(w, configError(err))
		return
	}
	writeJSON(w, http.StatusOK, ChangesReply{Changes: NewChanges(changes)})
}

func (s *Server) apiUpdate(w http.ResponseWriter, r *http.Request) {
	var req UpdateRequest
	if !decode(w, r, &req) {
		return
	}
	d := s.daemon(w)
	if d == nil {
		return
	}
	changes, err := d.Update(r.Context(), req.Groups)
	if err != nil {
		writeFault(w, configError(err))
		return
	}
	writeJSON(w, http.StatusOK, ChangesReply{Changes: NewChanges(changes)})
}

// configError turns an error that is not a fault (a config that does not
// load) into CANT_REREAD, as supervisord's reloadConfig reports it.
func configError(err error) error {
	var se *supervisor.Error
	if errors.As(err, &se) {
		return err
	}
	return &supervisor.Error{Fault: supervisor.FaultCantReread, Detail: err.Error()}
}

func (s *Server) apiScale(w http.ResponseWriter, r *http.Request) {
	var req ScaleRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Program == "" || req.N < 0 {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultBadArguments,
			Detail: fmt.Sprintf("scale needs a program name and a count >= 0, got %q %d", req.Program, req.N)})
		return
	}
	d := s.daemon(w)
	if d == nil {
		return
	}
	changes, err := d.Scale(r.Context(), req.Program, req.N)
	if err != nil {
		writeFault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ChangesReply{Changes: NewChanges(changes)})
}

func (s *Server) apiEval(w http.ResponseWriter, r *http.Request) {
	if s.opts.NoEval {
		writeJSON(w, http.StatusForbidden, ErrorReply{Error: NewAPIError(&supervisor.Error{
			Fault: supervisor.FaultFailed, Detail: "eval is disabled on a door without authentication"})})
		return
	}
	var req EvalRequest
	if !decode(w, r, &req) {
		return
	}
	d := s.daemon(w)
	if d == nil {
		return
	}
	// r.Context() ends when the client goes away, which cancels the chunk.
	out, err := d.Eval(r.Context(), req.Chunk)
	if err != nil && supervisor.FaultOf(err) != supervisor.FaultFailed {
		writeFault(w, err) // a daemon condition (shutting down ...), not the chunk's
		return
	}
	reply := EvalReply{Output: out}
	if err != nil {
		reply.LuaError = err.Error()
	}
	writeJSON(w, http.StatusOK, reply)
}

func (s *Server) apiReload(w http.ResponseWriter, r *http.Request) {
	d := s.daemon(w)
	if d == nil {
		return
	}
	if s.eng.ShuttingDown() {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultShutdownState})
		return
	}
	if err := d.Reload(); err != nil {
		writeFault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, OKReply{OK: true})
}

func (s *Server) apiShutdown(w http.ResponseWriter, r *http.Request) {
	d := s.daemon(w)
	if d == nil {
		return
	}
	if s.eng.ShuttingDown() {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultShutdownState})
		return
	}
	d.Shutdown()
	writeJSON(w, http.StatusOK, OKReply{OK: true})
}
