package control

import (
	"context"

	"github.com/tend-sh/tend/supervisor"
)

// runOps are the engine operations behind one verb (start or stop) at the
// three scopes supervisord offers: a process, a group, everything. The
// JSON API and XML-RPC both dispatch names through them.
type runOps struct {
	one   func(ctx context.Context, name string, wait bool) error
	group func(ctx context.Context, group string, wait bool) ([]supervisor.Result, error)
	all   func(ctx context.Context, wait bool) []supervisor.Result
}

func (s *Server) startOps() runOps {
	return runOps{one: s.eng.StartProcess, group: s.eng.StartGroup, all: s.eng.StartAll}
}

func (s *Server) stopOps() runOps {
	return runOps{one: s.eng.StopProcess, group: s.eng.StopGroup, all: s.eng.StopAll}
}
