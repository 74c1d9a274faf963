package supervisor

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// StartLimit is start_limit: more than Burst failures within Interval make
// the program FATAL (systemd's StartLimitBurst and StartLimitIntervalSec).
// A failure is a start that failed (an exit within startsecs, a spawn
// error) or an unexpected exit the engine restarts on its own; a start or
// restart asked for by a user is none and clears the count. A zero Burst
// means no limit.
type StartLimit struct {
	Burst    int
	Interval time.Duration
}

// String writes the limit as a config does.
func (l StartLimit) String() string {
	if l.Burst == 0 {
		return ""
	}
	return fmt.Sprintf("{ burst = %d, interval = %s }", l.Burst, formatSecs(l.Interval))
}

// noteFailureLocked counts one failure against start_limit and reports the
// reason to give up when the count passes the burst.
func (p *process) noteFailureLocked() (reason string, trip bool) {
	lim := p.spec.StartLimit
	if lim.Burst <= 0 {
		return "", false
	}
	now := p.e.clock.Now()
	p.failures = slices.DeleteFunc(p.failures, func(t time.Time) bool { return now.Sub(t) >= lim.Interval })
	p.failures = append(p.failures, now)
	if len(p.failures) <= lim.Burst {
		return "", false
	}
	return fmt.Sprintf("start_limit: %d failures within %ss (burst %d)", len(p.failures), formatSecs(lim.Interval), lim.Burst), true
}

// permanentExit reports whether code is one of permanent_exitcodes.
func (p *process) permanentExit(ei ExitInfo) (reason string, ok bool) {
	if ei.Signal != 0 || !slices.Contains(p.spec.PermanentExitCodes, ei.Code) {
		return "", false
	}
	return fmt.Sprintf("exit status %d is permanent (permanent_exitcodes)", ei.Code), true
}

// limitFatalLocked makes p FATAL because a limit acted, with the reason as
// its description and in the log.
func (p *process) limitFatalLocked(reason string) {
	p.spawnErr = reason
	p.limitReason = reason
	p.setStateLocked(Fatal, false)
	p.logf(slog.LevelWarn, "gave up: %s entered FATAL state, %s", p.spec.Name, reason)
	p.doneLocked()
}
