package supervisor

import (
	"errors"
	"os"
	"slices"
	"sync"
	"time"
)

// Framed streams (log_prefix, logs on tend's own stdout/stderr) are read
// by a goroutine each, not by the pump (pipes_linux.go). For a re-exec,
// Freeze parks them as it parks the pump: a read deadline in the past
// ends the wait in Capture between two chunks, and the goroutine waits
// there; the unfinished line the framer holds goes with the handoff.

// framedParkWait bounds the wait for a framed reader to park: one blocked
// writing to a stdout nobody reads never does, and the re-exec is refused.
const framedParkWait = 5 * time.Second

// framedCapture is the reader of one framed stream.
type framedCapture struct {
	r     *os.File
	lines *lineWriter

	mu      sync.Mutex
	parking bool
	parked  chan struct{} // closed by the reader once parked
	resume  chan struct{} // closed to let it read on
}

// framedCaps are the framed readers of an engine, by pipe.
type framedCaps struct {
	mu   sync.Mutex
	caps map[*os.File]*framedCapture
}

func (c *framedCaps) add(r *os.File, lines *lineWriter) *framedCapture {
	fc := &framedCapture{r: r, lines: lines}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caps == nil {
		c.caps = map[*os.File]*framedCapture{}
	}
	c.caps[r] = fc
	return fc
}

func (c *framedCaps) remove(r *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.caps, r)
}

// get returns the reader of r, if it still reads.
func (c *framedCaps) get(r *os.File) *framedCapture {
	if r == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps[r]
}

// all returns every reader.
func (c *framedCaps) all() []*framedCapture {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*framedCapture, 0, len(c.caps))
	for _, fc := range c.caps {
		out = append(out, fc)
	}
	return out
}

// park is called by the reader when its read was cut by a deadline: if a
// pause asked for it, it waits until resumed and reports true.
func (fc *framedCapture) park() bool {
	fc.mu.Lock()
	if !fc.parking {
		fc.mu.Unlock()
		return false
	}
	close(fc.parked)
	resume := fc.resume
	fc.mu.Unlock()
	<-resume
	return true
}

// pauseFramed parks every framed reader and returns what resumes them,
// or an error (all resumed) when one does not park in time.
func (e *Engine) pauseFramed() (resume func(), err error) {
	var paused []*framedCapture
	resume = func() {
		for _, fc := range paused {
			fc.r.SetReadDeadline(time.Time{})
			fc.mu.Lock()
			fc.parking = false
			close(fc.resume)
			fc.mu.Unlock()
		}
	}
	for _, fc := range e.framedCaps.all() {
		fc.mu.Lock()
		fc.parking, fc.parked, fc.resume = true, make(chan struct{}), make(chan struct{})
		parked := fc.parked
		fc.mu.Unlock()
		paused = append(paused, fc)
		fc.r.SetReadDeadline(time.Now())
		select {
		case <-parked:
		case <-time.After(framedParkWait):
			resume()
			return nil, errors.New("a program's output to tend's stdout (or through log_prefix) is blocked: re-exec needs it to flow")
		}
	}
	return resume, nil
}

// holdPartial stops the partial-line timer of a framer whose reader is
// parked (so the unfinished line is not written on its own while frozen)
// and returns a copy of that line, for the handoff; releasePartial arms
// the timer again (a thaw).
func (w *lineWriter) holdPartial() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disarmLocked()
	return slices.Clone(w.partial)
}

func (w *lineWriter) releasePartial() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armLocked()
}

// putPartial seeds a framer with the unfinished line a re-exec carried.
func (w *lineWriter) putPartial(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disarmLocked()
	w.partial = append(w.partial[:0], b...)
	w.armLocked()
}
