package control

import (
	"net/http"

	"github.com/tend-sh/tend/supervisor"
)

// apiAdd activates process groups of the config (supervisorctl add). A
// group is added by updating just that group from the config read anew,
// so its hooks run in a live Lua state, as after `update GROUP`. Each name
// gets SHUTDOWN_STATE while the daemon shuts down, ALREADY_ADDED when the
// group runs, and BAD_NAME when the config has no such group.
func (s *Server) apiAdd(w http.ResponseWriter, r *http.Request) {
	var req NamesRequest
	if !decode(w, r, &req) {
		return
	}
	d := s.daemon(w)
	if d == nil {
		return
	}
	out := NamesReply{Results: make([]NameResult, 0, len(req.Names))}
	for _, name := range req.Names {
		var err error
		switch {
		case s.eng.ShuttingDown():
			err = &supervisor.Error{Fault: supervisor.FaultShutdownState}
		case s.groupInUse(name):
			err = &supervisor.Error{Fault: supervisor.FaultAlreadyAdded, Detail: name}
		default:
			if _, err = d.Update(r.Context(), []string{name}); err != nil {
				err = configError(err)
			}
		}
		out.Results = append(out.Results, groupResult(name, err))
	}
	writeJSON(w, http.StatusOK, out)
}

// apiRemove removes stopped process groups from the running set
// (supervisorctl remove): STILL_RUNNING while one of its processes runs,
// BAD_NAME for a group that does not run.
func (s *Server) apiRemove(w http.ResponseWriter, r *http.Request) {
	var req NamesRequest
	if !decode(w, r, &req) {
		return
	}
	out := NamesReply{Results: make([]NameResult, 0, len(req.Names))}
	for _, name := range req.Names {
		var err error
		if s.eng.ShuttingDown() {
			err = &supervisor.Error{Fault: supervisor.FaultShutdownState}
		} else {
			err = s.eng.RemoveGroup(name)
		}
		out.Results = append(out.Results, groupResult(name, err))
	}
	writeJSON(w, http.StatusOK, out)
}

// groupInUse reports whether a group of that name runs.
func (s *Server) groupInUse(name string) bool {
	for _, i := range s.eng.Status() {
		if i.Group == name {
			return true
		}
	}
	return false
}

// groupResult is the wire form of the outcome of add or remove on one
// group: an Error, or nothing for done.
func groupResult(name string, err error) NameResult {
	if err != nil {
		return NameResult{Name: name, Error: NewAPIError(err)}
	}
	return NameResult{Name: name}
}

// apiStdin writes to a process's stdin (supervisord's sendProcessStdin,
// used by fg): BAD_NAME, NOT_RUNNING, or NO_FILE when the process's stdin
// is closed.
func (s *Server) apiStdin(w http.ResponseWriter, r *http.Request) {
	var req StdinRequest
	if !decode(w, r, &req) {
		return
	}
	if s.eng.ShuttingDown() {
		writeFault(w, &supervisor.Error{Fault: supervisor.FaultShutdownState})
		return
	}
	if err := s.eng.SendStdin(req.Name, []byte(req.Chars)); err != nil {
		writeFault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, OKReply{OK: true})
}
