package testkit

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// FakeClock is a clock whose time moves only when the test says so. It has
// the method set of supervisor.Clock, so it can be given to the engine as
// Config.Clock.
//
// Advance runs the timers that fall due on the caller's goroutine, one
// after another in deadline order, with Now reading each timer's deadline
// while it runs. So when Advance returns, everything due has happened, and
// nothing that was not due has: a test can prove that an action has not
// happened yet without sleeping.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64 // arming order, to break ties between equal deadlines
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced when timers are armed, stopped or run
}

type fakeTimer struct {
	when time.Time
	seq  uint64
	f    func()
}

// NewFakeClock returns a fake clock reading 2026-01-02 03:04:05 UTC.
func NewFakeClock() *FakeClock {
	return &FakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer that runs f once the fake time has moved d past
// now. A d of zero or less runs f at once in its own goroutine, as
// time.AfterFunc does.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	if d <= 0 {
		go f()
		return func() bool { return false }
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		c.notifyLocked()
		return true
	}
}

func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the time d forward, running every timer that falls due,
// including those that the timers it runs arm within the window.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.advanceTo(target)
}

func (c *FakeClock) advanceTo(target time.Time) {
	for c.runNext(target) {
	}
}

// runNext runs the earliest timer due by target and reports whether there
// was one; without one it sets the time to target.
func (c *FakeClock) runNext(target time.Time) bool {
	c.mu.Lock()
	var next *fakeTimer
	for _, t := range c.timers {
		if !t.when.After(target) && (next == nil || t.when.Before(next.when) || t.when.Equal(next.when) && t.seq < next.seq) {
			next = t
		}
	}
	if next == nil {
		if target.After(c.now) {
			c.now = target
		}
		c.mu.Unlock()
		return false
	}
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t == next })
	if next.when.After(c.now) {
		c.now = next.when
	}
	c.notifyLocked()
	c.mu.Unlock()
	next.f()
	return true
}

// Pending returns how long from now each armed timer has to run,
// shortest first.
func (c *FakeClock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, 0, len(c.timers))
	for _, t := range c.timers {
		out = append(out, t.when.Sub(c.now))
	}
	slices.Sort(out)
	return out
}

// WaitPending waits until exactly n timers are armed, for a timer that
// another goroutine arms (a hook's answer, a delayed restart), and fails
// the test after DefaultWait of real time.
func (c *FakeClock) WaitPending(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.NewTimer(DefaultWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("fake clock: %d timers armed (%v), want %d", got, c.Pending(), n)
		}
	}
}

// RunUntil lets code that waits on timers finish under a fake clock, such
// as an engine shutting down when a test ends: until done is closed, it
// moves the time to the latest armed timer, running every timer on the
// way, then gives the work they started (a signal, a reap) pace of real
// time before it looks again.
func (c *FakeClock) RunUntil(done <-chan struct{}, pace time.Duration) {
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for {
		c.mu.Lock()
		changed := c.changed
		var last time.Time
		for _, t := range c.timers {
			if t.when.After(last) {
				last = t.when
			}
		}
		c.mu.Unlock()
		if last.IsZero() {
			select {
			case <-done:
				return
			case <-changed:
				continue
			}
		}
		c.advanceTo(last)
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
