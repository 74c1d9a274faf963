package stdlib

import "github.com/tend-sh/tend/supervisor"

// Control is the running daemon as the sv module sees it. The daemon
// implements it. Every mutating call is asynchronous: it returns once the
// action has been requested, not when it has completed, because it may be
// called from a hook running on the VM goroutine that the daemon itself
// may be waiting on.
type Control interface {
	// Status returns the processes matching pattern: "" or "all" for every
	// process, "group:*" for a group, or a process name / namespec.
	Status(pattern string) ([]supervisor.Info, error)
	// Start requests that the named process (or "group:*", or "all") start.
	Start(name string) error
	// Stop requests that the named process (or "group:*", or "all") stop.
	Stop(name string) error
	// Restart requests a stop followed by a start.
	Restart(name string) error
	// Signal sends sig (a name such as "HUP" or a number) to the process.
	Signal(name, sig string) error
	// Scale changes the numprocs of a running program to n.
	Scale(program string, n int) error
	// Update re-reads the configuration and applies it, as tend update
	// (sv.update, and its old name sv.reload).
	Update() error
	// Events returns the daemon's last state changes, oldest first.
	Events() ([]supervisor.StateChange, error)
	// Roll starts a rolling restart of the named processes (or "group:*",
	// or "all") with these limits and returns at once; the daemon logs
	// its steps and its outcome.
	Roll(name string, maxSurge, maxUnavailable int) error
}
