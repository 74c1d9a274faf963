package control

import (
	"context"
	"net/http"
	"os"

	"github.com/tend-sh/tend/supervisor"
)

// nameOp performs one operation on one requested name.
type nameOp func(ctx context.Context, name string, req NamesRequest) NameResult

// apiNames serves an operation applied to each requested name in turn.
func (s *Server) apiNames(op nameOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req NamesRequest
		if !decode(w, r, &req) {
			return
		}
		writeJSON(w, http.StatusOK, NamesReply{Results: s.eachName(r.Context(), req, op)})
	}
}

func (s *Server) eachName(ctx context.Context, req NamesRequest, op nameOp) []NameResult {
	out := make([]NameResult, 0, len(req.Names))
	for _, name := range req.Names {
		out = append(out, op(ctx, name, req))
	}
	return out
}

func (s *Server) apiRestart(w http.ResponseWriter, r *http.Request) {
	var req NamesRequest
	if !decode(w, r, &req) {
		return
	}
	stopped := s.eachName(r.Context(), req, s.stopName)
	started := s.eachName(r.Context(), req, s.startName)
	writeJSON(w, http.StatusOK, RestartReply{Stopped: stopped, Started: started})
}

func (s *Server) apiPid(w http.ResponseWriter, r *http.Request) {
	var req NamesRequest
	if !decode(w, r, &req) {
		return
	}
	out := NamesReply{Pid: os.Getpid(), Results: s.eachName(r.Context(), req, s.pidName)}
	if s.opts.Daemon != nil {
		out.Pid = s.opts.Daemon.Pid()
	}
	writeJSON(w, http.StatusOK, out)
}

// results converts engine results to their wire form.
func results(rs []supervisor.Result) []Result {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		out = append(out, Result{Name: r.Name, Group: r.Group, Code: int(r.Fault), Description: r.Description})
	}
	return out
}

// single is the result of an operation on one process that succeeded or
// failed as a whole.
func (s *Server) single(name string, err error) NameResult {
	if err != nil {
		return NameResult{Name: name, Error: NewAPIError(err)}
	}
	group, proc := SplitNamespec(name)
	return NameResult{Name: name, Results: []Result{{Name: proc, Group: group,
		Code: int(supervisor.FaultSuccess), Description: "OK"}}}
}

// group is the result of a group or all-process operation.
func group(name string, rs []supervisor.Result, err error) NameResult {
	if err != nil {
		return NameResult{Name: name, Error: NewAPIError(err)}
	}
	return NameResult{Name: name, Results: results(rs)}
}

func (s *Server) startName(ctx context.Context, name string, req NamesRequest) NameResult {
	return s.runName(ctx, s.startOps(), name, !req.NoWait)
}

func (s *Server) stopName(ctx context.Context, name string, req NamesRequest) NameResult {
	return s.runName(ctx, s.stopOps(), name, !req.NoWait)
}

// runName applies ops to "all", a group ("g:*", "g:") or one process.
func (s *Server) runName(ctx context.Context, ops runOps, name string, wait bool) NameResult {
	if name == "all" {
		return group(name, ops.all(ctx, wait), nil)
	}
	if g, p := SplitNamespec(name); p == "" {
		rs, err := ops.group(ctx, g, wait)
		return group(name, rs, err)
	}
	return s.single(name, ops.one(ctx, name, wait))
}

func (s *Server) signalName(_ context.Context, name string, req NamesRequest) NameResult {
	g, p := SplitNamespec(name)
	sig, perr := supervisor.ParseSignal(req.Signal)
	if perr != nil {
		return s.badSignal(name, req.Signal)
	}
	switch {
	case name == "all":
		rs, err := s.eng.SignalGroup("", sig)
		return group(name, rs, err)
	case p == "":
		rs, err := s.eng.SignalGroup(g, sig)
		return group(name, rs, err)
	}
	return s.single(name, s.eng.SignalProcess(name, sig))
}

// badSignal answers as supervisord does for an unparsable signal: the name
// is checked first (BAD_NAME), then every signallable process of a group
// gets BAD_SIGNAL.
func (s *Server) badSignal(name, sig string) NameResult {
	bad := &supervisor.Error{Fault: supervisor.FaultBadSignal, Detail: sig}
	_, p := SplitNamespec(name)
	if name != "all" && p != "" {
		if _, err := s.eng.Info(name); err != nil {
			return s.single(name, err)
		}
		return s.single(name, bad)
	}
	names, err := s.eng.Resolve(name)
	if err != nil {
		return s.single(name, err)
	}
	var rs []supervisor.Result
	for _, n := range names {
		i, err := s.eng.Info(n)
		if err == nil && i.State.IsSignallable() {
			rs = append(rs, supervisor.Result{Name: i.Name, Group: i.Group, Fault: bad.Fault, Description: bad.Error()})
		}
	}
	return group(name, rs, nil)
}

func (s *Server) clearName(_ context.Context, name string, _ NamesRequest) NameResult {
	if name == "all" {
		return group(name, s.eng.ClearAllLogs(), nil)
	}
	return s.single(name, s.eng.ClearLog(name))
}

func (s *Server) pidName(_ context.Context, name string, _ NamesRequest) NameResult {
	if name == "all" {
		var rs []Result
		for _, i := range s.eng.Status() {
			rs = append(rs, Result{Name: i.Name, Group: i.Group, Code: int(supervisor.FaultSuccess), Pid: i.Pid})
		}
		return NameResult{Name: name, Results: rs}
	}
	i, err := s.eng.Info(name)
	if err != nil {
		return NameResult{Name: name, Error: NewAPIError(err)}
	}
	return NameResult{Name: name, Results: []Result{{Name: i.Name, Group: i.Group, Code: int(supervisor.FaultSuccess), Pid: i.Pid}}}
}
