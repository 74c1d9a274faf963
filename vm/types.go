package vm

import (
	"log/slog"
	"os"
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
	Umask           int // default 022
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
}

// Config is a loaded configuration.
type Config struct {
	Path   string // the file Load was given
	Daemon Daemon
	Specs  []supervisor.Spec      // every process, in declaration order
	Groups []supervisor.GroupSpec // the group{} declarations

	// hooks lists the hooks each namespec has, for FormatCheck.
	hooks map[string][]string
}
