// Package supervisor is tend's engine: it runs processes from resolved specs
// with the process semantics of supervisord 4.2.5 (states, backoff, stop
// escalation, process groups, log capture and rotation, events), without
// supervisord's one-second main loop.
//
// The package knows nothing of Lua. Decisions a configuration may script
// (restart after an exit? how long to back off?) go through the Policy
// interface; with no policy the supervisord rules apply.
//
// Ownership: one mutex (Engine.mu) guards the whole process table. Functions
// whose names end in Locked must be called with it held. Nothing blocks while
// holding it except fork/exec itself; policy calls run on their own goroutine
// with a deadline and post their answer back, and child exits arrive from a
// single SIGCHLD-driven reaper goroutine. Timers exist only for pending
// deadlines (startsecs, backoff, stopwaitsecs), so an idle engine wakes for
// nothing.
package supervisor
