package control

import (
	"context"
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
	if s.daemon(w) == nil {
		return
	}
	out := NamesReply{Results: make([]NameResult, 0, len(req.Names))}
	for _, name := range req.Names {
		var err error
		if s.eng.ShuttingDown() {
			err = &supervisor.Error{Fault: supervisor.FaultShutdownState}
		} else {
			err = s.addGroup(r.Context(), name)
		}
		out.Results = append(out.Results, groupResult(name, err))
	}
	writeJSON(w, http.StatusOK, out)
}

// addGroup adds one group of the config, for add and addProcessGroup:
// ALREADY_ADDED when it runs, BAD_NAME when the config has no such group.
// With a Daemon it is an update of just that group, so the daemon keeps
// track of the Lua state the group's hooks run in.
func (s *Server) addGroup(ctx context.Context, name string) error {
	if s.groupInUse(name) {
		return &supervisor.Error{Fault: supervisor.FaultAlreadyAdded, Detail: name}
	}
	if s.opts.Daemon == nil {
		return s.eng.AddGroup(ctx, s.eng.Specs(), name)
	}
	if _, err := s.opts.Daemon.Update(ctx, []string{name}); err != nil {
		return configError(err)
	}
	return nil
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
