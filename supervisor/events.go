package supervisor

import (
	"slices"
	"sync"
	"syscall"
	"time"
)

// EventType names an event with supervisord's event names.
type EventType string

// Event types published on the bus.
const (
	EventProcessState       EventType = "PROCESS_STATE" // Name is PROCESS_STATE_<TO>
	EventProcessLogStdout   EventType = "PROCESS_LOG_STDOUT"
	EventProcessLogStderr   EventType = "PROCESS_LOG_STDERR"
	EventRemoteComm         EventType = "REMOTE_COMMUNICATION"
	EventProcessCommStdout  EventType = "PROCESS_COMMUNICATION_STDOUT"
	EventProcessCommStderr  EventType = "PROCESS_COMMUNICATION_STDERR"
	EventProcessGroupAdded  EventType = "PROCESS_GROUP_ADDED"
	EventProcessGroupRemove EventType = "PROCESS_GROUP_REMOVED"
	EventSupervisorRunning  EventType = "SUPERVISOR_STATE_CHANGE_RUNNING"
	EventSupervisorStopping EventType = "SUPERVISOR_STATE_CHANGE_STOPPING"
	// EventProcessDone is tend's own: a process ended for good on its own
	// (it exited and will not be restarted, or went FATAL), with the code
	// of its last exit. It is never handed to eventlisteners, which only
	// know supervisord's events. A stop request does not produce it.
	EventProcessDone EventType = "TEND_PROCESS_DONE"
	// EventProcessReady is tend's own: a process with a ready option
	// became ready (it enters RUNNING once startsecs have passed too).
	// Like EventProcessDone it is never handed to eventlisteners.
	EventProcessReady EventType = "TEND_PROCESS_READY"
)

// Event is one thing that happened in the engine, with the fields of
// supervisord's event payloads.
type Event struct {
	Type     EventType
	Time     time.Time
	Process  string // process name
	Group    string
	From     State // PROCESS_STATE: the state left
	To       State // PROCESS_STATE: the state entered
	Tries    int   // STARTING/BACKOFF: failed starts so far
	Pid      int
	Expected bool // EXITED: whether the exit code was expected
	// ExitCode and Signal describe the exit behind EXITED, BACKOFF and
	// TEND_PROCESS_DONE events: the code (-1 when killed or never
	// spawned) and the signal that killed the process (0 if none).
	ExitCode int
	Signal   syscall.Signal
	// Reason says why the engine killed the process behind an EXITED
	// event as unhealthy ("probe failed 3 times: …"); Cause is its one
	// word ("probe", "watchdog"). Both "" for any other exit.
	Reason string
	Cause  cause
	Data   []byte // PROCESS_LOG_*: the output chunk
}

// Name returns the supervisord event name, such as PROCESS_STATE_RUNNING.
func (e Event) Name() string {
	if e.Type == EventProcessState {
		return "PROCESS_STATE_" + e.To.String()
	}
	return string(e.Type)
}

// Bus fans events out to subscribers. Publishing never blocks: a subscriber
// whose buffer is full loses its oldest event and its Dropped count grows.
type Bus struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	// pools are the eventlistener pools, handed each event they subscribe
	// to; serials counts the events handed to at least one pool (the first
	// is serial 0, as in supervisord).
	pools   []*pool
	serials uint64
}

func (b *Bus) addPool(pl *pool) {
	b.mu.Lock()
	b.pools = append(b.pools, pl)
	b.mu.Unlock()
}

func (b *Bus) removePool(pl *pool) {
	b.mu.Lock()
	b.pools = slices.DeleteFunc(b.pools, func(x *pool) bool { return x == pl })
	b.mu.Unlock()
}

// Subscription receives events from a Bus on C until Close.
type Subscription struct {
	C       chan Event
	bus     *Bus
	mu      sync.Mutex
	dropped int
}

// Subscribe returns a subscription buffering up to n events (at least 1).
func (b *Bus) Subscribe(n int) *Subscription {
	if n < 1 {
		n = 1
	}
	s := &Subscription{C: make(chan Event, n), bus: b}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*Subscription]struct{})
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close stops delivery to s. C is not closed, so a reader selecting on it
// must also watch its own context.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}

// Dropped returns how many events were discarded because C was full.
func (s *Subscription) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// wants reports whether an event of type t would reach anyone: a
// subscriber (they take every event) or a listener pool subscribed to it.
// The log pump asks before splicing output whose PROCESS_LOG events are
// enabled, so that a listener that subscribes later gets them.
func (b *Bus) wants(t EventType) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) > 0 {
		return true
	}
	for _, pl := range b.pools {
		pl.mu.Lock()
		yes := subscribes(pl.events, string(t))
		pl.mu.Unlock()
		if yes {
			return true
		}
	}
	return false
}

// Publish delivers e to every subscriber without blocking.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.deliver(e)
	}
	if len(b.pools) == 0 || e.Type == EventProcessDone || e.Type == EventProcessReady {
		return
	}
	var pe *poolEvent
	name := e.Name()
	for _, pl := range b.pools {
		pl.mu.Lock()
		if subscribes(pl.events, name) {
			if pe == nil {
				pe = &poolEvent{serial: b.serials, name: name, payload: e.Payload()}
				b.serials++
			}
			ev := *pe
			ev.poolSerial = pl.serials
			pl.serials++
			pl.acceptLocked(&ev, false)
			pl.dispatchLocked()
		}
		pl.mu.Unlock()
	}
}

func (s *Subscription) deliver(e Event) {
	for {
		select {
		case s.C <- e:
			return
		default:
		}
		select {
		case <-s.C:
			s.mu.Lock()
			s.dropped++
			s.mu.Unlock()
		default:
		}
	}
}
