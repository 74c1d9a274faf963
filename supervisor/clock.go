package supervisor

import "time"

// Clock is where the engine reads the time and arms its timers: startsecs,
// backoff delays, stopwaitsecs, delayed restarts, hook deadlines, TICK
// events and the shutdown report all go through it, and so do the times
// of events and of Info. Config.Clock nil means the real clock; tests set
// a fake one to move time by hand.
//
// Kernel work (reaping, signal delivery, pipe reads) still happens in real
// time: a fake clock decides when the engine acts, not how fast a child
// runs.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed. Calling
	// stop before then cancels the call; stop reports whether it did, as
	// time.Timer.Stop does.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the Clock of the time package.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
