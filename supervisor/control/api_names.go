package control

import (
	"context"
	"net/http"
	"os"

	"github.com/tend-sh/tend/supervisor"
)

// nameOp performs one operation on the target one requested name designates.
type nameOp func(ctx context.Context, t supervisor.Target, req NamesRequest) ([]supervisor.Result, error)

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
		t := supervisor.ParseTarget(name)
		rs, err := op(ctx, t, req)
		out = append(out, nameResult(name, t, rs, err))
	}
	return out
}

// nameResult is the wire form of an operation's outcome on one requested
// name: a one-process target that failed, or a target that does not
// resolve, is an Error; otherwise each process has a Result.
func nameResult(name string, t supervisor.Target, rs []supervisor.Result, err error) NameResult {
	if err == nil && t.IsProcess() {
		err = rs[0].Err
	}
	if err != nil {
		return NameResult{Name: name, Error: NewAPIError(err)}
	}
	return NameResult{Name: name, Results: results(rs)}
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
	out := NamesReply{Pid: os.Getpid(), Results: make([]NameResult, 0, len(req.Names))}
	if s.opts.Daemon != nil {
		out.Pid = s.opts.Daemon.Pid()
	}
	for _, name := range req.Names {
		out.Results = append(out.Results, s.pidName(name))
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

func (s *Server) startName(ctx context.Context, t supervisor.Target, req NamesRequest) ([]supervisor.Result, error) {
	return s.eng.Start(ctx, t, !req.NoWait)
}

func (s *Server) stopName(ctx context.Context, t supervisor.Target, req NamesRequest) ([]supervisor.Result, error) {
	return s.eng.Stop(ctx, t, !req.NoWait)
}

func (s *Server) signalName(_ context.Context, t supervisor.Target, req NamesRequest) ([]supervisor.Result, error) {
	return s.signal(t, req.Signal)
}

// clearName clears one process or all of them; a group is refused with
// BAD_NAME, as supervisorctl's clear (clearProcessLogs) answers.
func (s *Server) clearName(_ context.Context, t supervisor.Target, _ NamesRequest) ([]supervisor.Result, error) {
	if !t.All && !t.IsProcess() {
		return nil, &supervisor.Error{Fault: supervisor.FaultBadName, Detail: t.String()}
	}
	return s.eng.Clear(t)
}

// pidName answers pid for one process or "all"; a group is not a process
// and has no pid (BAD_NAME, as supervisorctl's getProcessInfo gives).
func (s *Server) pidName(name string) NameResult {
	t := supervisor.ParseTarget(name)
	if t.All {
		var rs []Result
		for _, i := range s.eng.Status() { // supervisorctl's pid all: sorted by name
			rs = append(rs, Result{Name: i.Name, Group: i.Group, Code: int(supervisor.FaultSuccess), Pid: i.Pid})
		}
		return NameResult{Name: name, Results: rs}
	}
	if !t.IsProcess() {
		return NameResult{Name: name, Error: NewAPIError(&supervisor.Error{Fault: supervisor.FaultBadName, Detail: name})}
	}
	names, err := s.eng.Targets(t)
	if err != nil {
		return NameResult{Name: name, Error: NewAPIError(err)}
	}
	rs := make([]Result, 0, len(names))
	for _, n := range names {
		if i, err := s.eng.Info(n); err == nil {
			rs = append(rs, Result{Name: i.Name, Group: i.Group, Code: int(supervisor.FaultSuccess), Pid: i.Pid})
		}
	}
	return NameResult{Name: name, Results: rs}
}
