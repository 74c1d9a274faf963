package testkit

import (
	"testing"
	"time"
)

// DefaultWait bounds every wait of the kit: long enough for a loaded
// machine, short enough that a hung test fails on its own.
const DefaultWait = 20 * time.Second

// pollEvery is how often WaitFor looks again.
const pollEvery = 20 * time.Millisecond

// WaitFor polls cond until it holds, failing the test after d of real time
// (DefaultWait when d is 0). Use it only for what sends no event: a file's
// content, a pid in /proc, a daemon in another process. Engine states have
// event-driven waits (Recorder, enginekit).
func WaitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	if d == 0 {
		d = DefaultWait
	}
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(pollEvery)
	}
}
