package supervisor

// State is a process state, with supervisord's numeric codes.
type State int

// The process states of supervisord, with the same codes.
const (
	Stopped  State = 0
	Starting State = 10
	Running  State = 20
	Backoff  State = 30
	Stopping State = 40
	Exited   State = 100
	Fatal    State = 200
	Unknown  State = 1000
)

var stateNames = map[State]string{
	Stopped: "STOPPED", Starting: "STARTING", Running: "RUNNING", Backoff: "BACKOFF",
	Stopping: "STOPPING", Exited: "EXITED", Fatal: "FATAL", Unknown: "UNKNOWN",
}

// String returns the supervisord name of the state, such as "RUNNING".
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "UNKNOWN"
}

// ParseState returns the state named s (as printed by String).
func ParseState(s string) (State, bool) {
	for k, v := range stateNames {
		if v == s {
			return k, true
		}
	}
	return Unknown, false
}

// IsStopped reports whether s is one of supervisord's STOPPED_STATES
// (STOPPED, EXITED, FATAL, UNKNOWN).
func (s State) IsStopped() bool {
	return s == Stopped || s == Exited || s == Fatal || s == Unknown
}

// IsRunning reports whether s is one of supervisord's RUNNING_STATES
// (RUNNING, BACKOFF, STARTING).
func (s State) IsRunning() bool {
	return s == Running || s == Backoff || s == Starting
}

// IsSignallable reports whether a process in state s has a live pid that may
// be signalled (RUNNING, STARTING, STOPPING).
func (s State) IsSignallable() bool {
	return s == Running || s == Starting || s == Stopping
}
