package supervisor

import (
	"reflect"
	"slices"
	"syscall"
	"time"
)

// AutoRestart is a program's autorestart setting.
type AutoRestart int

// The three values of supervisord's autorestart option.
const (
	RestartUnexpected AutoRestart = iota // restart when the exit code is not in ExitCodes (default)
	RestartAlways                        // autorestart=true
	RestartNever                         // autorestart=false
)

// String returns the value as written in a config: "unexpected", "true" or "false".
func (a AutoRestart) String() string {
	switch a {
	case RestartAlways:
		return "true"
	case RestartNever:
		return "false"
	}
	return "unexpected"
}

// Log targets with a special meaning in LogSpec.Path.
const (
	LogAuto = "AUTO" // a file named by the engine in ChildLogDir (supervisord's default)
	LogNone = "NONE" // discard
)

// LogSpec describes where one output stream of a process goes.
type LogSpec struct {
	// Path is a file path, LogAuto (also the meaning of ""), or LogNone.
	// "/dev/stdout" and "/dev/stderr" pass through without rotation.
	Path            string
	MaxBytes        int64 // rotate when the file reaches this size; 0 = never
	Backups         int   // rotated files kept (.1 … .N); 0 = truncate in place
	CaptureMaxBytes int64 // PROCESS_COMMUNICATION capture buffer; 0 = off
	EventsEnabled   bool  // publish PROCESS_LOG events for this stream
	Syslog          bool  // also send each line to syslog, as "<process name> <line>"
}

// Default values of supervisord's [program:x] options.
const (
	DefaultPriority     = 999
	DefaultStartSecs    = time.Second
	DefaultStartRetries = 3
	DefaultStopWait     = 10 * time.Second
	DefaultLogMaxBytes  = 50 * 1024 * 1024
	DefaultLogBackups   = 10
	DefaultHookTimeout  = time.Second
)

// Spec is one fully resolved process: a [program:x] section after numprocs
// expansion. All expansions (%(program_name)s …) have been applied by the
// config loader. Specs are values: the engine compares them to decide what
// a reload changes.
type Spec struct {
	Name     string // process name (the expanded process_name)
	Program  string // program name (the [program:x] name)
	Group    string // group name; equals Program unless the program is in a group
	Num      int    // process_num
	NumProcs int    // numprocs of the program
	// NumProcsStart is numprocs_start of the program: Num of its first process.
	NumProcsStart int
	Command       []string // argv; Command[0] is looked up in PATH if it has no slash
	// CommandLine is the command as written, for display (getAllConfigInfo).
	CommandLine string

	Priority      int
	GroupPriority int
	AutoStart     bool
	StartSecs     time.Duration
	StartRetries  int // math.MaxInt for "never give up"
	AutoRestart   AutoRestart
	ExitCodes     []int
	StopSignal    syscall.Signal
	StopWait      time.Duration
	StopAsGroup   bool
	KillAsGroup   bool

	User        string              // user name, "" = the daemon's user
	Credential  *syscall.Credential // resolved from User by the loader; nil = unchanged
	Directory   string              // "" = the daemon's working directory
	Umask       int                 // -1 = inherit the daemon's umask
	Environment map[string]string   // the program's environment= (applied last)

	RedirectStderr bool
	Stdout         LogSpec
	Stderr         LogSpec
	ServerURL      string // SUPERVISOR_SERVER_URL for this program; "" = the daemon's
	// LogPrefix is put in front of every line of both logs (log_prefix),
	// with PrefixStream and PrefixTime replaced per stream and per line.
	// A prefix, or a log on /dev/stdout or /dev/stderr, makes the engine
	// write whole lines (see lineWriter).
	LogPrefix string

	// Socket is the socket of an fcgi_program ([fcgi-program:x]): the
	// process's descriptor 0, in place of a stdin pipe. nil otherwise.
	Socket *SocketSpec
	// Sockets are passed from descriptor 3 on, in this order, with
	// systemd's socket-activation protocol (LISTEN_FDS, LISTEN_FDNAMES,
	// and LISTEN_PID set to the child's pid by the trampoline).
	Sockets []SocketSpec

	// Listener makes the process a member of an eventlistener pool named
	// after Program; nil for an ordinary program.
	Listener *ListenerSpec

	// Essential marks a program whose end ends the daemon (container mode):
	// the engine only reports it (Info.Essential, EventProcessDone); the
	// daemon decides to shut down.
	Essential bool

	// PermanentExitCodes are exit codes after which the process goes FATAL
	// at once, without retries (permanent_exitcodes).
	PermanentExitCodes []int
	// StartLimit gives up on a program that keeps failing (start_limit).
	StartLimit StartLimit
	// MaxMemory restarts the process when the resident memory of its tree
	// stays above it (bytes) for MaxMemoryFor; 0 = no limit.
	MaxMemory    int64
	MaxMemoryFor time.Duration
	// Ready says how the engine learns the process is ready; nil = ready
	// as soon as it runs (supervisord's rule).
	Ready *ReadySpec
	// Requires are the processes that must hold a condition before this
	// one starts (the requires option, deps.go); stops go the other way.
	Requires Requirements
	// Probe is the liveness check run while RUNNING; nil = none.
	Probe *ProbeSpec
	// Watchdog is systemd's watchdog interval: a process with a notify
	// ready must send WATCHDOG=1 at least this often while RUNNING; 0 =
	// no watchdog.
	Watchdog time.Duration

	// HookTimeout bounds every Policy call for this process.
	HookTimeout time.Duration
	// Policy decides restarts and backoff; nil applies supervisord's rules.
	// It is not compared by Equal: hooks are code and are replaced on reload.
	Policy Policy
	// Source is where the program was declared ("tend.lua:12"), for messages.
	Source string
}

// GroupSpec is a [group:x] section: a named set of programs with a priority.
type GroupSpec struct {
	Name     string
	Programs []string
	Priority int
}

// NewSpec returns a Spec for one process with supervisord's defaults.
func NewSpec(name string, argv ...string) Spec {
	return Spec{
		Name: name, Program: name, Group: name, NumProcs: 1, Command: argv,
		Priority: DefaultPriority, GroupPriority: DefaultPriority,
		AutoStart: true, StartSecs: DefaultStartSecs, StartRetries: DefaultStartRetries,
		ExitCodes: []int{0}, StopSignal: syscall.SIGTERM, StopWait: DefaultStopWait,
		Umask:       -1,
		Stdout:      LogSpec{Path: LogAuto, MaxBytes: DefaultLogMaxBytes, Backups: DefaultLogBackups},
		Stderr:      LogSpec{Path: LogAuto, MaxBytes: DefaultLogMaxBytes, Backups: DefaultLogBackups},
		HookTimeout: DefaultHookTimeout,
	}
}

// Equal reports whether two specs describe the same process configuration:
// whether they differ only in what update applies without a restart (the
// live options of ProgramOptions, Policy, Source, GroupPriority).
func (s Spec) Equal(o Spec) bool { return s.equal(&o) }

// equal is Equal without copying o: the engine compares thousands.
func (s *Spec) equal(o *Spec) bool {
	a := *s
	a.copyLive(o)
	if len(a.Environment) == 0 && len(o.Environment) == 0 {
		a.Environment = o.Environment
	}
	// Pointers: DeepEqual goes through them to the same comparison, and
	// a Spec boxed in an interface is a heap copy, two per call, which at
	// 5000 processes was most of an update that changed nothing.
	return reflect.DeepEqual(&a, o)
}

// Namespec returns the name clients use for the process: "group:name", or
// just "name" when the process's name equals its group's.
func (s Spec) Namespec() string { return Namespec(s.Group, s.Name) }

// Namespec joins a group and process name the way supervisorctl shows them.
func Namespec(group, name string) string {
	if group == name {
		return name
	}
	return group + ":" + name
}

// expectedExit reports whether code is one of the spec's exit codes.
func (s *Spec) expectedExit(code int) bool { return slices.Contains(s.ExitCodes, code) }
