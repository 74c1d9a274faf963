package supervisor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// logErrorEvery is how often a log that keeps failing (the disk is full)
// is reported again: a chatty child on a full disk made the daemon log
// the same ENOSPC error 130 times a second.
const logErrorEvery = 30 * time.Second

// logDrops accounts for one channel of one process whose log cannot be
// written: the bytes dropped (for /metrics) and the error messages, of
// which the first is logged at once and the others at most once per
// logErrorEvery, with a count. It lives as long as the process, across
// restarts and log reopenings. Safe for concurrent use.
type logDrops struct {
	total atomic.Int64 // bytes dropped since the process was loaded

	// failing is set while writes fail; read without mu by ok, which runs
	// for every chunk.
	failing atomic.Bool

	mu         sync.Mutex
	lastLog    time.Time
	suppressed int   // errors not logged since lastLog
	since      int64 // bytes dropped since the failure began
}

// failed records a write error that dropped lost bytes, and returns the
// message to log now ("" while rate-limited).
func (d *logDrops) failed(now time.Time, what string, err error, lost int) string {
	d.total.Add(int64(lost))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.since += int64(lost)
	if !d.failing.Load() {
		d.failing.Store(true)
		d.lastLog, d.suppressed = now, 0
		return fmt.Sprintf("write %s: %v (repeats are reported every %s at most)", what, err, logErrorEvery)
	}
	if now.Sub(d.lastLog) < logErrorEvery {
		d.suppressed++
		return ""
	}
	msg := fmt.Sprintf("write %s: %v (%d more failed writes, %d bytes dropped so far)", what, err, d.suppressed, d.since)
	d.lastLog, d.suppressed = now, 0
	return msg
}

// ok records a successful write, and returns the message to log when it
// ends a failure.
func (d *logDrops) ok(what string) string {
	if !d.failing.Load() {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failing.Load() {
		return ""
	}
	msg := fmt.Sprintf("write %s: writing again after dropping %d bytes", what, d.since)
	d.failing.Store(false)
	d.since, d.suppressed = 0, 0
	return msg
}
