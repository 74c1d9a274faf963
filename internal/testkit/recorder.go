package testkit

import (
	"sync"
	"testing"
	"time"
)

// Recorder keeps every value received from a channel, typically an
// engine's event subscription, and lets a test wait until what it has
// recorded satisfies a condition. The wait wakes on each value, not on a
// timer: a condition that depends only on the events is checked exactly
// when it may have become true.
type Recorder[E any] struct {
	mu      sync.Mutex
	got     []E
	changed chan struct{} // closed and replaced at each value
	stop    chan struct{}
	done    chan struct{}
}

// Record starts recording from c until Stop (or the end of the test).
func Record[E any](tb testing.TB, c <-chan E) *Recorder[E] {
	r := &Recorder[E]{changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case v := <-c:
				r.mu.Lock()
				r.got = append(r.got, v)
				close(r.changed)
				r.changed = make(chan struct{})
				r.mu.Unlock()
			case <-r.stop:
				return
			}
		}
	}()
	tb.Cleanup(r.Stop)
	return r
}

// Stop ends the recording; it may be called more than once.
func (r *Recorder[E]) Stop() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// All returns a copy of what has been recorded.
func (r *Recorder[E]) All() []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]E(nil), r.got...)
}

// Wait waits until cond holds for the values recorded so far, checking at
// the start and after each new value, and fails the test after d of real
// time (DefaultWait when d is 0). cond must not modify the values. Wait
// returns the values cond accepted.
func (r *Recorder[E]) Wait(tb testing.TB, what string, d time.Duration, cond func([]E) bool) []E {
	tb.Helper()
	if d == 0 {
		d = DefaultWait
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		// Recorded values never change, so cond may read them unlocked;
		// the capacity limit keeps an append in cond off the recorder's.
		got, changed := r.got[:len(r.got):len(r.got)], r.changed
		r.mu.Unlock()
		if cond(got) {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("timed out after %s waiting for %s", d, what)
			return nil
		}
	}
}
