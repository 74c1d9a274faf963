package repl

import (
	"context"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// rollFlags are restart's options for a rolling restart.
var rollFlags = []string{"--rolling", "--max-surge", "--max-unavailable"}

// rollArgs is a restart command line split into its roll options and names.
type rollArgs struct {
	rolling                  bool
	maxSurge, maxUnavailable *int
	names                    []string
}

// parseRollArgs takes --rolling, --max-surge N and --max-unavailable N
// (or --opt=N) out of restart's arguments, wherever they are.
func parseRollArgs(args []string) (rollArgs, string) {
	var r rollArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			r.names = append(r.names, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		var dst **int
		switch name {
		case "--rolling":
			if hasVal {
				return r, "Error: --rolling takes no value"
			}
			r.rolling = true
			continue
		case "--max-surge":
			dst = &r.maxSurge
		case "--max-unavailable":
			dst = &r.maxUnavailable
		default:
			return r, "Error: unknown option " + name
		}
		val, ok := takeValue(args, &i, val, hasVal)
		if !ok {
			return r, "Error: " + name + " requires a number"
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return r, "Error: " + name + " must be a number >= 0, not " + strconv.Quote(val)
		}
		*dst = &n
	}
	switch {
	case !r.rolling && (r.maxSurge != nil || r.maxUnavailable != nil):
		return r, "Error: --max-surge and --max-unavailable go with --rolling"
	case len(r.names) == 0:
		return r, "Error: restart requires a process name"
	}
	return r, ""
}

// roll runs a rolling restart of each name in turn, printing each instance
// as it is done; the first roll that fails ends the command with exit
// status 1 and the reason.
func (x *ctl) roll(ctx context.Context, r rollArgs) {
	for _, name := range r.names {
		req := control.RollRequest{Name: name, MaxSurge: r.maxSurge, MaxUnavailable: r.maxUnavailable}
		err := x.c.Roll(ctx, req, func(st control.RollStep) { x.println(st.Text) })
		if ae := apiError(err); ae != nil {
			x.rc = exitGeneric
			switch ae.Fault() {
			case supervisor.FaultBadName:
				if t := supervisor.ParseTarget(name); !t.IsProcess() {
					x.println(t.Group + ": ERROR (no such group)")
				} else {
					x.println(name + ": ERROR (no such process)")
				}
			default:
				x.println("error: " + ae.Message)
			}
			return
		}
		if x.transport(err) {
			return
		}
	}
}
