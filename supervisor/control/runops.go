package control

import (
	"context"

	"github.com/tend-sh/tend/supervisor"
)

// targetOp is an engine operation that waits (Engine.Start or Engine.Stop),
// shared by the JSON API, XML-RPC and the web page.
type targetOp func(ctx context.Context, t supervisor.Target, wait bool) ([]supervisor.Result, error)

// oneErr is what a one-process target's operation raises, as supervisord's
// startProcess does: the target's error, else the process's.
func oneErr(rs []supervisor.Result, err error) error {
	if err != nil {
		return err
	}
	return rs[0].Err
}

// badSignalResults answers a signal request whose signal does not parse,
// as supervisord does: the name is checked first (BAD_NAME), then a single
// process, or every signallable process of a group, gets BAD_SIGNAL.
func (s *Server) badSignalResults(t supervisor.Target, bad error) ([]supervisor.Result, error) {
	names, err := s.eng.Targets(t)
	if err != nil {
		return nil, err
	}
	code, msg := supervisor.FaultOf(bad), bad.Error()
	var rs []supervisor.Result
	for _, n := range names {
		i, err := s.eng.Info(n)
		if err == nil && (t.IsProcess() || i.State.IsSignallable()) {
			rs = append(rs, supervisor.Result{Name: i.Name, Group: i.Group, Fault: code, Description: msg, Err: bad})
		}
	}
	return rs, nil
}

// signal sends the signal named sig to t, or answers as badSignalResults.
func (s *Server) signal(t supervisor.Target, sig string) ([]supervisor.Result, error) {
	n, err := supervisor.ParseSignal(sig)
	if err != nil {
		return s.badSignalResults(t, &supervisor.Error{Fault: supervisor.FaultBadSignal, Detail: sig})
	}
	return s.eng.Signal(t, n)
}
