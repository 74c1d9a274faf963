package supervisor

import (
	"fmt"
	"syscall"
	"time"
)

// HistorySize is how many state changes the engine remembers.
const HistorySize = 1000

// StateChange is one entry of the engine's history of state changes.
type StateChange struct {
	Seq      uint64 // numbers the changes from 1, in order
	Time     time.Time
	Process  string
	Group    string
	From, To State
	Pid      int
	// ExitCode and Signal describe the exit behind EXITED, BACKOFF and
	// FATAL (-1 and 0 when there was none).
	ExitCode int
	Signal   syscall.Signal
	// Reason says why, where the engine knows: the spawn error or limit
	// behind BACKOFF and FATAL, the limit behind a STOPPING it asked for.
	Reason string
}

// history is a ring of the last HistorySize state changes. It is written
// at each change (under Engine.mu): it costs nothing while nothing changes.
type history struct {
	buf  []StateChange
	next int    // where the next entry goes once buf is full
	seq  uint64 // Seq of the last entry
}

func (h *history) add(c StateChange) {
	h.seq++
	c.Seq = h.seq
	if len(h.buf) < HistorySize {
		h.buf = append(h.buf, c)
		return
	}
	h.buf[h.next] = c
	h.next = (h.next + 1) % HistorySize
}

// list returns the entries oldest first.
func (h *history) list() []StateChange {
	out := make([]StateChange, 0, len(h.buf))
	out = append(out, h.buf[h.next:]...)
	return append(out, h.buf[:h.next]...)
}

// History returns the last state changes of every process, oldest first
// (at most HistorySize).
func (e *Engine) History() []StateChange {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.history.list()
}

// HistorySince returns the state changes after the one numbered seq that
// the ring still holds, oldest first: a follower calls it when woken by a
// PROCESS_STATE event.
func (e *Engine) HistorySince(seq uint64) []StateChange {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.history.list()
	i := len(l)
	for i > 0 && l[i-1].Seq > seq {
		i--
	}
	return l[i:]
}

// recordLocked adds the change p just made to the engine's history.
func (p *process) recordLocked(ev Event) {
	c := StateChange{Time: ev.Time, Process: ev.Process, Group: ev.Group, From: ev.From, To: ev.To, Pid: ev.Pid}
	switch ev.To {
	case Exited, Backoff, Fatal:
		c.ExitCode, c.Signal = ev.ExitCode, ev.Signal
	}
	switch ev.To {
	case Backoff, Fatal:
		c.Reason = p.spawnErr
	case Exited:
		c.Reason = fmt.Sprintf("exit status %d", ev.ExitCode)
		if ev.Signal != 0 {
			c.Reason = "terminated by SIG" + SignalName(ev.Signal)
		}
		if ev.Reason != "" {
			c.Reason = ev.Reason // why tend killed it; the exit is in ExitCode and Signal
		}
	case Stopping:
		c.Reason, p.stopReason = p.stopReason, ""
	}
	p.e.history.add(c)
}
