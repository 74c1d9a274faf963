package vm

import (
	lua "github.com/yuin/gopher-lua"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/tend-sh/tend/stdlib"
	"github.com/tend-sh/tend/supervisor"
)

// Options configure a VM.
type Options struct {
	// Logger is the daemon log (nil discards): Lua log.* calls, print in
	// the config and in hooks, and hook failures go here with file:line.
	Logger *slog.Logger
	// Control is the live daemon behind the sv module; nil makes sv
	// functions raise "not attached to a running daemon".
	Control stdlib.Control
	// HookTimeout is the default deadline of hooks and Eval when the
	// config does not set hook_timeout; 0 means one second.
	HookTimeout time.Duration
	// LoadTimeout bounds this load's run of the config; 0 means
	// DefaultLoadTimeout. A config's own load_timeout is only known once
	// it has run, so it bounds the loads after it: the daemon passes the
	// running config's value here. (Resolve uses the loaded config's.)
	LoadTimeout time.Duration
	// MemoryLimit is the memory budget while this load runs the config
	// (0: DefaultMemoryLimit; < 0: none); afterwards the loaded config's
	// lua_memory_limit applies to every call. See BudgetError for what it
	// bounds.
	MemoryLimit int64
	// StuckGrace is how long past its deadline a call may hold the VM
	// before the VM counts as stuck, and how long Close waits; 0 means
	// DefaultStuckGrace.
	StuckGrace time.Duration
	// OnStuck, if set, is called (on its own goroutine) once for each call
	// found holding the VM past its deadline plus the grace, with what it
	// was running: the daemon should replace the VM.
	OnStuck func(where string)
	// Supervisord are [supervisord] options given on supervisord's
	// command line (tend run as supervisord): they override those of an
	// INI config (a Lua config ignores them).
	Supervisord map[string]string
	// Check loads for tend check, which may run on another machine than
	// the daemon: what depends on this machine is a warning, not an error
	// (a user that does not exist here), and Config.Warnings also names
	// commands not found on PATH and directories and log folders that do
	// not exist.
	Check bool
}

// SocketConfig is daemon{ socket = {...} }: the control socket.
type SocketConfig struct {
	Path  string      // default /run/tend.sock as root, else /tmp/tend-<uid>.sock
	Mode  os.FileMode // default 0700
	Owner string      // "user" or "user:group"; "" leaves the daemon's
}

// HTTPConfig is daemon{ http = {...} }: the optional TCP listener.
type HTTPConfig struct {
	Listen      string // host:port
	Username    string
	Password    string // plain text or "{SHA}" followed by a hex SHA-1
	AllowNoAuth bool   // permit a listener without credentials
}

// Daemon is the daemon{} declaration with defaults applied.
type Daemon struct {
	Logfile         string // default tend.log in the daemon's working directory
	LogfileMaxBytes int64  // default 50MB
	LogfileBackups  int    // default 10
	LogLevel        string // default "info"
	Pidfile         string
	ChildLogDir     string
	Directory       string
	User            string // supervisord's [supervisord] user=: drop to it after opening files
	Umask           int    // default 022
	Identifier      string
	Nocleanup       bool
	Minfds          int
	Environment     map[string]string
	Socket          SocketConfig
	HTTP            *HTTPConfig // nil = no TCP listener
	HookTimeout     time.Duration
	Subreaper       bool // default true
	// Orphans is what a daemon does with the processes a killed previous
	// instance left running: stop them (default) or adopt them.
	Orphans supervisor.OrphanMode
	// LoadTimeout bounds running the config at the next load (reload,
	// update, reread, check) and a scale's re-resolve; default 10s.
	LoadTimeout time.Duration
	// LuaMemoryLimit is the memory budget of each Lua call (hook, eval
	// chunk, config run) in bytes; default 64MB; -1 (written 0 or false)
	// = no budget.
	LuaMemoryLimit int64

	// Container mode (see vm/container.go).
	Container       bool // PID 1 duties even when not PID 1
	ExitWhenDone    bool
	ShutdownTimeout time.Duration // default 25s
	ExitCodes       map[int]int   // remaps tend's exit status
	// ExitCodeHook is where exit_codes is written as a function that
	// chooses tend's exit status (VM.ExitCode calls it); "" = none.
	ExitCodeHook string
	exitHook     *lua.LFunction
	Forward      map[syscall.Signal]string         // signal -> target it is passed to
	Rewrite      map[syscall.Signal]syscall.Signal // received -> sent to programs
	Health       *HealthConfig                     // nil = no probe listener
}

// Config is a loaded configuration.
type Config struct {
	Path   string // the file Load was given
	Daemon Daemon
	Specs  []supervisor.Spec      // every process, in declaration order
	Groups []supervisor.GroupSpec // the group{} declarations
	// INI is set when the file is supervisord's INI config, run through
	// tend import's conversion; nil for a Lua config.
	INI *INIConfig
	// Included are the files include ran, in the order they ran, named as
	// in messages.
	Included []string
	// Warnings are mistakes that do not stop the load, each "file:line:
	// what: message": an include glob that matches no file (supervisord
	// warns too), and with Options.Check what this machine lacks.
	Warnings []string

	// hooks lists the hooks each namespec has, for FormatCheck.
	hooks map[string][]string
}
