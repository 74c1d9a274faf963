package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ListenerSpec makes a program a supervisord [eventlistener:x]: its
// processes form one pool that receives the subscribed events on stdin and
// answers on stdout with the READY / RESULT protocol.
type ListenerSpec struct {
	// Events are the subscribed supervisord event type names, concrete
	// (PROCESS_STATE_RUNNING, TICK_5) or abstract (PROCESS_STATE, TICK, EVENT).
	Events []string
	// BufferSize bounds the pool's queue of undelivered events; when it is
	// full the oldest event is discarded. 0 means DefaultBufferSize.
	BufferSize int
}

// DefaultBufferSize is supervisord's default eventlistener buffer_size.
const DefaultBufferSize = 10

// The tick events, sent at every multiple of their period while a pool
// subscribes to them.
const (
	EventTick5    EventType = "TICK_5"
	EventTick60   EventType = "TICK_60"
	EventTick3600 EventType = "TICK_3600"
)

var tickPeriods = map[EventType]time.Duration{
	EventTick5: 5 * time.Second, EventTick60: time.Minute, EventTick3600: time.Hour,
}

// abstractEvents maps supervisord's abstract event types to the prefix of
// the concrete names they cover ("" for EVENT: everything).
var abstractEvents = map[string]string{
	"EVENT":                   "",
	"PROCESS_STATE":           "PROCESS_STATE_",
	"PROCESS_LOG":             "PROCESS_LOG_",
	"PROCESS_COMMUNICATION":   "PROCESS_COMMUNICATION_",
	"SUPERVISOR_STATE_CHANGE": "SUPERVISOR_STATE_CHANGE_",
	"PROCESS_GROUP":           "PROCESS_GROUP_",
	"TICK":                    "TICK_",
}

// EventTypeNames returns every event type name an eventlistener may
// subscribe to, abstract ones included, sorted.
func EventTypeNames() []string {
	names := []string{
		string(EventProcessLogStdout), string(EventProcessLogStderr), string(EventRemoteComm),
		string(EventProcessCommStdout), string(EventProcessCommStderr),
		string(EventProcessGroupAdded), string(EventProcessGroupRemove),
		string(EventSupervisorRunning), string(EventSupervisorStopping),
		string(EventTick5), string(EventTick60), string(EventTick3600),
	}
	for s := range stateNames {
		names = append(names, "PROCESS_STATE_"+s.String())
	}
	for a := range abstractEvents {
		names = append(names, a)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// subscribes reports whether the subscription list events covers the
// concrete event name.
func subscribes(events []string, name string) bool {
	for _, s := range events {
		if s == name {
			return true
		}
		if prefix, ok := abstractEvents[s]; ok && strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// Payload returns the event's body as supervisord sends it to listeners.
func (e Event) Payload() []byte {
	switch e.Type {
	case EventProcessState:
		s := fmt.Sprintf("processname:%s groupname:%s from_state:%s", e.Process, e.Group, e.From)
		switch e.To {
		case Starting, Backoff:
			s += fmt.Sprintf(" tries:%d", e.Tries)
		case Exited:
			s += fmt.Sprintf(" expected:%d pid:%d", boolInt(e.Expected), e.Pid)
			if e.Cause != "" {
				// tend's own token, only after an unhealthy kill (never
				// with a supervisord config): one word without a colon,
				// so parsers that split tokens on spaces and on ':' (such
				// as childutils.get_headers) still read every pair. The
				// sentence is in the history and the process's info.
				s += " reason:" + string(e.Cause)
			}
		case Running, Stopping, Stopped:
			s += fmt.Sprintf(" pid:%d", e.Pid)
		}
		return []byte(s)
	case EventProcessLogStdout, EventProcessLogStderr:
		ch := "stdout"
		if e.Type == EventProcessLogStderr {
			ch = "stderr"
		}
		return append([]byte(fmt.Sprintf("processname:%s groupname:%s pid:%d channel:%s\n", e.Process, e.Group, e.Pid, ch)), e.Data...)
	case EventProcessCommStdout, EventProcessCommStderr:
		return append([]byte(fmt.Sprintf("processname:%s groupname:%s pid:%d\n", e.Process, e.Group, e.Pid)), e.Data...)
	case EventProcessGroupAdded, EventProcessGroupRemove:
		return []byte("groupname:" + e.Group + "\n")
	case EventTick5, EventTick60, EventTick3600:
		return []byte("when:" + strconv.FormatInt(e.Time.Unix(), 10))
	}
	return slices.Clone(e.Data) // REMOTE_COMMUNICATION carries "type:T\ndata"; others are empty
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ListenerState is an event listener's protocol state.
type ListenerState int

// supervisord's EventListenerStates.
const (
	ListenerAcknowledged ListenerState = iota // started, or answered its last event
	ListenerReady                             // printed READY, waits for an event
	ListenerBusy                              // an event was sent, no RESULT yet
	ListenerUnknown                           // broke the protocol; gets no more events until restarted
)

// String returns the state's supervisord name.
func (s ListenerState) String() string {
	return [...]string{"ACKNOWLEDGED", "READY", "BUSY", "UNKNOWN"}[s]
}

// poolEvent is one event queued in, or sent from, a pool.
type poolEvent struct {
	serial, poolSerial uint64
	name               string
	payload            []byte
}

// pool is the event dispatcher of one eventlistener program. Its mutable
// fields, and those of its listeners, are guarded by pool.mu (its methods
// named ...Locked expect pool.mu held). pool.mu is taken after Engine.mu
// and Bus.mu, never before them, and nothing is called with it held that
// could block: the pump's listener sinks take only pool.mu.
type pool struct {
	name string
	e    *Engine

	mu         sync.Mutex
	events     []string
	bufferSize int
	buffer     []*poolEvent
	serials    uint64 // events accepted so far: the next poolserial
	listeners  []*listener
}

// listener is one running process of a pool, from spawn to exit.
type listener struct {
	pool    *pool // the pool it joined at spawn, even if a reload drops it
	name    string
	stdin   *os.File
	state   ListenerState
	running bool // the process is RUNNING: supervisord sends events only then
	gone    bool // the process exited; late output is only logged
	event   *poolEvent
	buf     []byte
	result  int // length announced by the RESULT line; -1 before it
}

// acceptLocked queues an event for the pool, discarding the oldest when
// full, as supervisord's _acceptEvent. head puts a rejected event back in
// front.
func (pl *pool) acceptLocked(ev *poolEvent, head bool) {
	if len(pl.buffer) >= pl.bufferSize {
		old := pl.buffer[0]
		pl.buffer = pl.buffer[1:]
		pl.e.log.Error(fmt.Sprintf("pool %s event buffer overflowed, discarding event %d", pl.name, old.serial))
	}
	if head {
		pl.buffer = slices.Insert(pl.buffer, 0, ev)
	} else {
		pl.buffer = append(pl.buffer, ev)
	}
}

// dispatchLocked hands buffered events to READY, RUNNING listeners.
func (pl *pool) dispatchLocked() {
	for _, l := range pl.listeners {
		if len(pl.buffer) == 0 {
			return
		}
		if l.gone || !l.running || l.state != ListenerReady {
			continue
		}
		ev := pl.buffer[0]
		pl.buffer = pl.buffer[1:]
		l.event = ev
		pl.setStateLocked(l, ListenerBusy)
		msg := fmt.Appendf(nil, "ver:3.0 server:supervisor serial:%d pool:%s poolserial:%d eventname:%s len:%d\n",
			ev.serial, pl.name, ev.poolSerial, ev.name, len(ev.payload))
		msg = append(msg, ev.payload...)
		// The pipe is in the netpoller: a listener that does not read
		// parks this goroutine only, until it reads or its stdin closes.
		go func(w *os.File, name string) {
			if _, err := w.Write(msg); err != nil {
				pl.e.log.Debug(fmt.Sprintf("write event to %s: %v", name, err))
			}
		}(l.stdin, l.name)
	}
}

func (pl *pool) setStateLocked(l *listener, to ListenerState) {
	if l.state == to {
		return
	}
	pl.e.log.Debug(fmt.Sprintf("%s: %s -> %s", l.name, l.state, to))
	l.state = to
	if to == ListenerUnknown {
		pl.e.log.Warn(fmt.Sprintf("%s: has entered the UNKNOWN state and will no longer receive events, "+
			"this usually indicates the process violated the eventlistener protocol", l.name))
	}
}

// rejectLocked puts l's in-flight event back at the head of the buffer.
func (pl *pool) rejectLocked(l *listener) {
	if l.event != nil {
		pl.acceptLocked(l.event, true)
		l.event = nil
	}
}

// The listener protocol's tokens, and the bounds tend puts on what it
// buffers of a listener's answer (supervisord buffers without bound): a
// RESULT line longer than maxResultLine, or announcing more than maxResult
// bytes, breaks the protocol.
const (
	readyToken    = "READY\n"
	resultToken   = "RESULT "
	maxResultLine = 4 << 10
	maxResult     = 1 << 20
)

// feed parses a chunk of l's stdout as the listener protocol.
func (pl *pool) feed(l *listener, chunk []byte) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if l.gone || l.state == ListenerUnknown {
		return
	}
	l.buf = append(l.buf, chunk...)
	for len(l.buf) > 0 && l.state != ListenerUnknown {
		switch l.state {
		case ListenerAcknowledged:
			if len(l.buf) < len(readyToken) {
				return // as supervisord: too short to decide yet
			}
			if !bytes.HasPrefix(l.buf, []byte(readyToken)) {
				pl.unknownLocked(l)
				return
			}
			l.buf = l.buf[len(readyToken):]
			pl.setStateLocked(l, ListenerReady)
			pl.dispatchLocked()
		case ListenerReady:
			pl.unknownLocked(l)
			return
		case ListenerBusy:
			if l.result < 0 {
				line, rest, ok := bytes.Cut(l.buf, []byte("\n"))
				if !ok && len(l.buf) > maxResultLine {
					pl.e.log.Warn(fmt.Sprintf("%s: bad result line: no newline in %d bytes", l.name, len(l.buf)))
					pl.unknownLocked(l)
					return
				}
				if !ok {
					return
				}
				// supervisord reads the length after the first 7 bytes
				// ("RESULT ") without checking them, and so does tend.
				n, err := strconv.Atoi(strings.TrimSpace(string(line[min(len(resultToken), len(line)):])))
				if err != nil || n < 0 || n > maxResult {
					pl.e.log.Warn(fmt.Sprintf("%s: bad result line: %q", l.name, line))
					pl.unknownLocked(l)
					return
				}
				l.result, l.buf = n, rest
			}
			if len(l.buf) < l.result {
				return
			}
			body := string(l.buf[:l.result])
			l.buf, l.result = l.buf[l.result:], -1
			if body == "OK" {
				pl.e.log.Debug(l.name + ": event was processed")
			} else {
				pl.e.log.Warn(l.name + ": event was rejected")
				pl.rejectLocked(l)
			}
			l.event = nil
			pl.setStateLocked(l, ListenerAcknowledged)
		}
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
}

func (pl *pool) unknownLocked(l *listener) {
	pl.setStateLocked(l, ListenerUnknown)
	pl.rejectLocked(l)
	l.buf = nil
	pl.dispatchLocked()
}

// attach registers a freshly spawned process of the pool.
func (pl *pool) attach(name string, stdin *os.File) *listener {
	l := &listener{pool: pl, name: name, stdin: stdin, result: -1}
	pl.mu.Lock()
	pl.listeners = append(pl.listeners, l)
	pl.mu.Unlock()
	return l
}

// setRunning records whether l's process is RUNNING.
func (pl *pool) setRunning(l *listener, running bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	l.running = running
	pl.dispatchLocked()
}

// detach forgets an exited listener; the event it was handling goes back
// to the buffer for the next READY listener.
func (pl *pool) detach(l *listener) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	l.gone = true
	pl.rejectLocked(l)
	pl.listeners = slices.DeleteFunc(pl.listeners, func(x *listener) bool { return x == l })
	pl.dispatchLocked()
}

// ListenerInfo is a snapshot of one event listener process.
type ListenerInfo struct {
	Pool     string
	Name     string
	State    ListenerState
	Buffered int // events waiting in the pool
}

// Listeners returns the protocol state of every running event listener.
func (e *Engine) Listeners() []ListenerInfo {
	e.mu.Lock()
	pools := make([]*pool, 0, len(e.pools))
	for _, pl := range e.pools {
		pools = append(pools, pl)
	}
	e.mu.Unlock()
	var out []ListenerInfo
	for _, pl := range pools {
		pl.mu.Lock()
		for _, l := range pl.listeners {
			out = append(out, ListenerInfo{Pool: pl.name, Name: l.name, State: l.state, Buffered: len(pl.buffer)})
		}
		pl.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b ListenerInfo) int {
		return strings.Compare(a.Pool+"\x00"+a.Name, b.Pool+"\x00"+b.Name)
	})
	return out
}

// rebuildPoolsLocked creates, updates and drops pools to match the
// eventlistener programs in the process table, and starts or stops the
// tick timers their subscriptions need.
func (e *Engine) rebuildPoolsLocked() {
	want := map[string]*ListenerSpec{}
	for _, p := range e.procs {
		if p.spec.Listener != nil {
			want[p.spec.Program] = p.spec.Listener
		}
	}
	for name, pl := range e.pools {
		if want[name] == nil {
			e.bus.removePool(pl)
			delete(e.pools, name)
		}
	}
	if e.pools == nil {
		e.pools = map[string]*pool{}
	}
	ticks := map[EventType]bool{}
	for name, ls := range want {
		pl := e.pools[name]
		if pl == nil {
			pl = &pool{name: name, e: e}
			e.pools[name] = pl
			e.bus.addPool(pl)
		}
		pl.mu.Lock()
		pl.events = slices.Clone(ls.Events)
		pl.bufferSize = orDefault(ls.BufferSize, DefaultBufferSize)
		pl.mu.Unlock()
		for t := range tickPeriods {
			if subscribes(ls.Events, string(t)) {
				ticks[t] = true
			}
		}
	}
	for _, p := range e.procs {
		p.pool = nil
		if p.spec.Listener != nil {
			p.pool = e.pools[p.spec.Program]
		}
	}
	for t := range tickPeriods {
		switch {
		case ticks[t] && e.ticks[t] == nil && !e.shuttingDown:
			if e.ticks == nil {
				e.ticks = map[EventType]*tick{}
			}
			e.scheduleTickLocked(t)
		case !ticks[t] && e.ticks[t] != nil:
			e.ticks[t].stop()
			delete(e.ticks, t)
		}
	}
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// scheduleTickLocked arms a timer for the next multiple of t's period; it
// publishes the tick and re-arms itself while the tick is still wanted.
func (e *Engine) scheduleTickLocked(t EventType) {
	period := tickPeriods[t]
	now := e.clock.Now()
	next := now.Truncate(period).Add(period)
	tk := &tick{}
	tk.stop = e.clock.AfterFunc(next.Sub(now), func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.ticks[t] != tk {
			return
		}
		e.bus.Publish(Event{Type: t, Time: next})
		e.scheduleTickLocked(t)
	})
	e.ticks[t] = tk
}

// tick is the armed timer of one TICK event type; its identity tells a
// timer that fired after being replaced from the current one.
type tick struct{ stop func() bool }

// stopTicksLocked stops every tick timer (at shutdown).
func (e *Engine) stopTicksLocked() {
	for t, tk := range e.ticks {
		tk.stop()
		delete(e.ticks, t)
	}
}
