package supervisor

import (
	"context"
	"syscall"
	"time"
)

// ExitInfo describes why a process ended, as passed to a Policy.
type ExitInfo struct {
	Pid          int
	Code         int            // exit status; -1 when killed by a signal
	Signal       syscall.Signal // the signal that killed it, or 0
	Expected     bool           // Code is in ExitCodes and the exit came after startsecs
	Uptime       time.Duration  // how long the process ran
	Attempt      int            // failed starts so far, from 1 (BACKOFF); 0 after RUNNING
	StartRetries int
	// Reason says why the engine killed the process as unhealthy ("probe
	// failed 3 times: …", "watchdog timeout after 30s"); "" when it did
	// not. Such an exit is never Expected.
	Reason string
	cause  cause
}

// Action is what a Policy decides after a process that reached RUNNING exits.
type Action int

// The decisions an OnExit policy can take.
const (
	ActionDefault Action = iota // apply autorestart/exitcodes as supervisord does
	ActionRestart               // restart (after Decision.Delay) whatever autorestart says
	ActionStop                  // leave the process EXITED
)

// Decision is the answer of Policy.OnExit.
type Decision struct {
	Action Action
	Delay  time.Duration // with ActionRestart: wait this long first
}

// BackoffDecision is the answer of Policy.OnBackoff.
type BackoffDecision struct {
	Default bool          // use supervisord's linear delay (Attempt seconds)
	GiveUp  bool          // go to FATAL now
	Delay   time.Duration // otherwise wait this long before the next try
}

// Policy scripts the restart rules of a process. The engine calls it on its
// own goroutine with a context bounded by Spec.HookTimeout; an error or a
// missed deadline makes the engine log it and apply supervisord's rule.
// Neither method is called for exits caused by a stop request.
type Policy interface {
	// OnExit is called when a process that had reached RUNNING exits.
	OnExit(ctx context.Context, p Info, e ExitInfo) (Decision, error)
	// OnBackoff is called when a start attempt failed (the process exited
	// before startsecs, or could not be spawned) and tries remain.
	OnBackoff(ctx context.Context, p Info, e ExitInfo) (BackoffDecision, error)
}
