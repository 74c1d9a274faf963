package vm

import (
	"sync/atomic"
	"time"
)

// HookStats counts the hook calls a VM has made (on_start, on_state,
// on_exit, on_backoff), for the daemon's /metrics.
type HookStats struct {
	Calls    uint64        // hook calls made
	Errors   uint64        // calls that raised an error or returned a bad value
	Timeouts uint64        // calls cut off at their deadline
	Duration time.Duration // total time spent in hooks
}

// Add returns the sum of two counts.
func (s HookStats) Add(o HookStats) HookStats {
	return HookStats{Calls: s.Calls + o.Calls, Errors: s.Errors + o.Errors,
		Timeouts: s.Timeouts + o.Timeouts, Duration: s.Duration + o.Duration}
}

// hookCounters are a VM's HookStats, updated from the owner goroutine and
// read from anywhere.
type hookCounters struct {
	calls, errors, timeouts atomic.Uint64
	nanos                   atomic.Int64
}

// record counts one call that began at start; failed and timedOut say how
// it ended.
func (c *hookCounters) record(start time.Time, failed, timedOut bool) {
	c.calls.Add(1)
	c.nanos.Add(int64(time.Since(start)))
	switch {
	case timedOut:
		c.timeouts.Add(1)
	case failed:
		c.errors.Add(1)
	}
}

// HookStats returns the counts of the hook calls this VM has made.
func (v *VM) HookStats() HookStats {
	c := &v.hookCounts
	return HookStats{Calls: c.calls.Load(), Errors: c.errors.Load(), Timeouts: c.timeouts.Load(),
		Duration: time.Duration(c.nanos.Load())}
}
