package supervisor

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Kind is the type of an option's value as a config writes it. The config
// loader decodes a value by its kind, tend init and tend import write one
// by it, and tend check and getAllConfigInfo show one by it.
type Kind int

// The kinds of option values.
const (
	KindString      Kind = iota // text; the loader applies %(name)s expansions
	KindBool                    // true or false (supervisord also takes yes/no/on/off/1/0)
	KindInt                     // an integer (>= 0 unless the option's own decoder says otherwise)
	KindSize                    // bytes, or a string such as "50MB" (1024-based)
	KindSeconds                 // a duration in seconds (fractions allowed)
	KindSignal                  // a signal name such as "TERM", or a number
	KindOctal                   // a number written in octal, such as "022"
	KindAutoRestart             // true, false or "unexpected"
	KindExitCodes               // a list of exit codes ("0,2" in supervisord)
	KindEnvironment             // KEY=value pairs
	KindCommand                 // a command line, or an argv list
	KindLogFile                 // a path, "AUTO" or "NONE"
	KindNames                   // a list of names ("A,B" in supervisord)
	KindStartLimit              // a table { burst = N, interval = seconds }
	KindTable                   // a Lua table of fields (tend's own options, such as ready)
)

// Option is one program option: its name and value, its default and doc
// line, and where a Spec keeps it. ProgramOptions lists every one; the
// config loader, tend check, tend init, tend import, reread, update and
// getAllConfigInfo all work from that list, so an option is declared once.
type Option struct {
	Name string // as a config writes it; supervisord's name where it has one
	Kind Kind
	// Default is the default written as supervisord writes it ("10",
	// "50MB", "TERM", "0,2"). It is "" when the default depends on the
	// machine or the daemon; tend init then shows Example, commented out.
	Default, Example string
	Doc              string // one line for tend init's sample
	// Live options are copied by update into a running process without
	// restarting it: they shape the program (how many instances) or its
	// hooks, not the process itself.
	Live bool
	// Tend marks tend's own options, which supervisord does not have.
	Tend bool
	// Listener marks the options only an eventlistener accepts.
	Listener bool
	// FCGI marks the options only an fcgi_program accepts (its socket).
	FCGI bool
	// ConfigInfo is the member of supervisord's getAllConfigInfo that
	// reports the option, or "" when it reports none.
	ConfigInfo string
	// Field returns a pointer to the Spec field that holds the value, or
	// nil when s holds none (a listener option of a plain program).
	Field func(s *Spec) any
}

// ProgramOptions are the options of program{} and eventlistener{} in the
// order tend init lists them: supervisord's [program:x] options, tend's
// hook_timeout, and the pool options of [eventlistener:x]. The hooks
// (on_start, on_exit …) are the config loader's: the engine sees them
// only as Spec.Policy.
var ProgramOptions = slices.Concat([]Option{
	{Name: "command", Kind: KindCommand,
		Doc:   "required: a command line (split like a shell) or an argv list",
		Field: func(s *Spec) any { return &s.Command }},
	{Name: "process_name", Kind: KindString, Default: "%(program_name)s",
		Doc:   "needs %(process_num) when numprocs > 1",
		Field: func(s *Spec) any { return &s.Name }},
	{Name: "numprocs", Kind: KindInt, Default: "1", Live: true,
		Doc:   "how many copies to run",
		Field: func(s *Spec) any { return &s.NumProcs }},
	{Name: "numprocs_start", Kind: KindInt, Default: "0", Live: true,
		Doc:   "the first %(process_num)",
		Field: func(s *Spec) any { return &s.NumProcsStart }},
	{Name: "priority", Kind: KindInt, Default: "999", ConfigInfo: "process_prio",
		Doc:   "lower starts first, stops last",
		Field: func(s *Spec) any { return &s.Priority }},
	{Name: "autostart", Kind: KindBool, Default: "true", ConfigInfo: "autostart",
		Doc:   "start when the daemon starts",
		Field: func(s *Spec) any { return &s.AutoStart }},
	{Name: "startsecs", Kind: KindSeconds, Default: "1", ConfigInfo: "startsecs",
		Doc:   "must stay up this long to be RUNNING",
		Field: func(s *Spec) any { return &s.StartSecs }},
	{Name: "startretries", Kind: KindInt, Default: "3", ConfigInfo: "startretries",
		Doc:   "failed starts before FATAL (math.huge = never give up)",
		Field: func(s *Spec) any { return &s.StartRetries }},
	{Name: "autorestart", Kind: KindAutoRestart, Default: "unexpected",
		Doc:   `true, false or "unexpected" (exit code not in exitcodes)`,
		Field: func(s *Spec) any { return &s.AutoRestart }},
	{Name: "exitcodes", Kind: KindExitCodes, Default: "0", ConfigInfo: "exitcodes",
		Doc:   "the expected exit codes",
		Field: func(s *Spec) any { return &s.ExitCodes }},
	{Name: "stopsignal", Kind: KindSignal, Default: "TERM", ConfigInfo: "stopsignal",
		Doc:   "TERM, HUP, INT, QUIT, KILL, USR1, USR2 or a number",
		Field: func(s *Spec) any { return &s.StopSignal }},
	{Name: "stopwaitsecs", Kind: KindSeconds, Default: "10", ConfigInfo: "stopwaitsecs",
		Doc:   "then SIGKILL",
		Field: func(s *Spec) any { return &s.StopWait }},
	{Name: "stopasgroup", Kind: KindBool, Default: "false",
		Doc:   "send stopsignal to the whole process group",
		Field: func(s *Spec) any { return &s.StopAsGroup }},
	{Name: "killasgroup", Kind: KindBool, Example: "true", ConfigInfo: "killasgroup",
		Doc:   "SIGKILL the whole group; default: stopasgroup",
		Field: func(s *Spec) any { return &s.KillAsGroup }},
	{Name: "user", Kind: KindString, Example: "nobody",
		Doc:   "run as this user (the daemon must be root)",
		Field: func(s *Spec) any { return &s.User }},
	{Name: "directory", Kind: KindString, Example: "/tmp", ConfigInfo: "directory",
		Doc:   "chdir here before exec; default: the daemon's directory",
		Field: func(s *Spec) any { return &s.Directory }},
	{Name: "umask", Kind: KindOctal, Example: "022",
		Doc:   "default: the daemon's umask",
		Field: func(s *Spec) any { return &s.Umask }},
	{Name: "environment", Kind: KindEnvironment, Example: "TZ=UTC",
		Doc:   `extra variables, or a "KEY=value,KEY2=value" string`,
		Field: func(s *Spec) any { return &s.Environment }},
},
	streamOptions("stdout", func(s *Spec) *LogSpec { return &s.Stdout }, true),
	[]Option{{Name: "redirect_stderr", Kind: KindBool, Default: "false", ConfigInfo: "redirect_stderr",
		Doc:   "send stderr to the stdout log (the stderr_ options then do nothing)",
		Field: func(s *Spec) any { return &s.RedirectStderr }}},
	streamOptions("stderr", func(s *Spec) *LogSpec { return &s.Stderr }, false),
	[]Option{
		{Name: "log_prefix", Kind: KindString, Example: "%(program_name)s | ", Tend: true,
			Doc:   "put before every line; also %(stream)s and %(time)s",
			Field: func(s *Spec) any { return &s.LogPrefix }},
		{Name: "serverurl", Kind: KindString, Default: "AUTO", ConfigInfo: "serverurl",
			Doc:   "SUPERVISOR_SERVER_URL for the child; AUTO = the daemon's",
			Field: func(s *Spec) any { return &s.ServerURL }},
		{Name: "essential", Kind: KindBool, Default: "false", Live: true, Tend: true,
			Doc:   "when it exits for good or goes FATAL, tend stops everything and exits with its code",
			Field: func(s *Spec) any { return &s.Essential }},
		{Name: "permanent_exitcodes", Kind: KindExitCodes, Example: "125", Live: true, Tend: true,
			Doc:   "an exit with one of these goes FATAL at once, without retries",
			Field: func(s *Spec) any { return &s.PermanentExitCodes }},
		{Name: "start_limit", Kind: KindStartLimit, Example: `{ burst = 5, interval = 60 }`, Live: true, Tend: true,
			Doc:   "more failures (failed starts, unexpected exits) than burst within interval seconds: FATAL",
			Field: func(s *Spec) any { return &s.StartLimit }},
		{Name: "max_memory", Kind: KindSize, Default: "0", Tend: true,
			Doc:   "restart when the process tree's resident memory stays above this (0 = no limit)",
			Field: func(s *Spec) any { return &s.MaxMemory }},
		{Name: "max_memory_for", Kind: KindSeconds, Default: "0", Tend: true,
			Doc:   "how long the tree must stay above max_memory before the restart",
			Field: func(s *Spec) any { return &s.MaxMemoryFor }},
		{Name: "ready", Kind: KindTable, Example: `{ notify = "systemd" }`, Tend: true,
			Doc:   "RUNNING only once ready: notify, fd, http, tcp, exec, log or check; timeout (60), period, initial_delay",
			Field: func(s *Spec) any { return &s.Ready }},
		{Name: "requires", Kind: KindTable, Example: `{ db = "ready", migrate = "completed_successfully" }`, Live: true, Tend: true,
			Doc:   "start once these hold (started, running, ready, completed, completed_successfully); stop before them",
			Field: func(s *Spec) any { return &s.Requires }},
		{Name: "probe", Kind: KindTable, Example: `{ http = "http://127.0.0.1:8080/healthz" }`, Tend: true,
			Doc:   "liveness while RUNNING: http, tcp, exec or check; period (10), timeout (1), initial_delay, failure_threshold (3), success_threshold (1)",
			Field: func(s *Spec) any { return &s.Probe }},
		{Name: "watchdog", Kind: KindSeconds, Example: "30", Tend: true,
			Doc:   `with ready = { notify = "systemd" }: WATCHDOG=1 must come this often while RUNNING (WATCHDOG_USEC)`,
			Field: func(s *Spec) any { return &s.Watchdog }},
		{Name: "hook_timeout", Kind: KindSeconds, Example: "1", Live: true, Tend: true,
			Doc:   "default: daemon's hook_timeout",
			Field: func(s *Spec) any { return &s.HookTimeout }},
		{Name: "sockets", Kind: KindTable, Example: `{ web = "tcp://127.0.0.1:8080" }`, Tend: true,
			Doc:   "listening sockets tend holds, passed from fd 3 with LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID (sorted by name)",
			Field: func(s *Spec) any { return &s.Sockets }},
		{Name: "socket", Kind: KindString, FCGI: true,
			Doc:   `required: "tcp://host:port" or "unix:///path", the socket every instance gets as fd 0`,
			Field: fcgiField(func(sk *SocketSpec) any { return &sk.URL })},
		{Name: "socket_backlog", Kind: KindInt, Example: "1024", FCGI: true,
			Doc:   "listen(2) backlog, 1-65535; default: SOMAXCONN",
			Field: fcgiField(func(sk *SocketSpec) any { return &sk.Backlog })},
		{Name: "socket_owner", Kind: KindString, Example: "www-data:www-data", FCGI: true,
			Doc:   "user[:group] of a unix socket; default: the program's user",
			Field: fcgiField(func(sk *SocketSpec) any { return &sk.Owner })},
		{Name: "socket_mode", Kind: KindOctal, Example: "0700", FCGI: true,
			Doc:   "mode of a unix socket; default: 0700",
			Field: fcgiField(func(sk *SocketSpec) any { return &sk.Mode })},
		{Name: "events", Kind: KindNames, Listener: true,
			Doc: "required: the event types the pool subscribes to",
			Field: func(s *Spec) any {
				if s.Listener == nil {
					return nil
				}
				return &s.Listener.Events
			}},
		{Name: "buffer_size", Kind: KindInt, Default: "10", Listener: true,
			Doc: "events queued for the pool; when full the oldest is dropped",
			Field: func(s *Spec) any {
				if s.Listener == nil {
					return nil
				}
				return &s.Listener.BufferSize
			}},
	})

// fcgiField returns the Field of an fcgi_program socket option: nil for a
// spec without a socket.
func fcgiField(f func(*SocketSpec) any) func(*Spec) any {
	return func(s *Spec) any {
		if s.Socket == nil {
			return nil
		}
		return f(s.Socket)
	}
}

// Accepts reports whether a declaration of kind decl ("program",
// "eventlistener" or "fcgi_program") takes the option.
func (o Option) Accepts(decl string) bool {
	switch {
	case o.Listener:
		return decl == "eventlistener"
	case o.FCGI:
		return decl == "fcgi_program"
	}
	return true
}

// streamOptions are the six options of one output stream (stdout_… or
// stderr_…). Only stdout's carry doc lines: tend init documents them once.
func streamOptions(stream string, log func(*Spec) *LogSpec, withDoc bool) []Option {
	doc := func(s string) string {
		if withDoc {
			return s
		}
		return ""
	}
	p := stream + "_"
	return []Option{
		{Name: p + "logfile", Kind: KindLogFile, Default: LogAuto, ConfigInfo: p + "logfile",
			Doc:   doc(`a path, "AUTO" (in childlogdir) or "NONE"`),
			Field: func(s *Spec) any { return &log(s).Path }},
		{Name: p + "logfile_maxbytes", Kind: KindSize, Default: "50MB", ConfigInfo: p + "logfile_maxbytes",
			Doc:   doc("rotate at this size (0 = never)"),
			Field: func(s *Spec) any { return &log(s).MaxBytes }},
		{Name: p + "logfile_backups", Kind: KindInt, Default: "10", ConfigInfo: p + "logfile_backups",
			Doc:   doc("rotated files kept (0 = truncate in place)"),
			Field: func(s *Spec) any { return &log(s).Backups }},
		{Name: p + "capture_maxbytes", Kind: KindSize, Default: "0", ConfigInfo: p + "capture_maxbytes",
			Doc:   doc("PROCESS_COMMUNICATION capture buffer (0 = off)"),
			Field: func(s *Spec) any { return &log(s).CaptureMaxBytes }},
		{Name: p + "events_enabled", Kind: KindBool, Default: "false", ConfigInfo: p + "events_enabled",
			Doc:   doc("publish PROCESS_LOG_" + strings.ToUpper(stream) + " events"),
			Field: func(s *Spec) any { return &log(s).EventsEnabled }},
		{Name: p + "syslog", Kind: KindBool, Default: "false", ConfigInfo: p + "syslog",
			Doc:   doc(`also send each line to syslog as "<name> <line>"`),
			Field: func(s *Spec) any { return &log(s).Syslog }},
	}
}

// LookupOption returns the program option called name.
func LookupOption(name string) (Option, bool) {
	i := slices.IndexFunc(ProgramOptions, func(o Option) bool { return o.Name == name })
	if i < 0 {
		return Option{}, false
	}
	return ProgramOptions[i], true
}

// Value returns the option's value in s, or nil when s holds none.
func (o Option) Value(s *Spec) any {
	p := o.Field(s)
	if p == nil {
		return nil
	}
	return reflect.ValueOf(p).Elem().Interface()
}

// copyLive copies into s the live options of from, and the fields that are
// no option and never need a restart: the hooks (Policy), where the program
// was declared (Source), and the group's start order (GroupPriority).
func (s *Spec) copyLive(from *Spec) {
	for _, o := range ProgramOptions {
		if !o.Live {
			continue
		}
		dst, src := o.Field(s), o.Field(from)
		if dst != nil && src != nil {
			reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
		}
	}
	s.Policy, s.Source, s.GroupPriority = from.Policy, from.Source, from.GroupPriority
	if s.Ready != nil && from.Ready != nil {
		// A scripted check is code, replaced on reload like Policy.
		r := *s.Ready
		r.Check = from.Ready.Check
		s.Ready = &r
	}
	if s.Probe != nil && from.Probe != nil {
		r := *s.Probe
		r.Check = from.Probe.Check
		s.Probe = &r
	}
}

// specDiff names the options that differ between two specs, in
// ProgramOptions order. Live options are not named: update applies them
// without a restart.
func specDiff(a, b Spec) []string {
	var out []string
	for _, o := range ProgramOptions {
		if !o.Live && !sameValue(o.Value(&a), o.Value(&b)) {
			out = append(out, o.Name)
		}
	}
	return out
}

// sameValue compares two option values; an empty map equals a nil one
// (an environment of {} is no environment).
func sameValue(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() == reflect.Map && vb.Kind() == reflect.Map && va.Len() == 0 && vb.Len() == 0 {
		return true
	}
	if ra, ok := a.(*ReadySpec); ok && ra != nil {
		if rb, ok := b.(*ReadySpec); ok && rb != nil {
			return ra.sameAs(rb)
		}
	}
	if ra, ok := a.(*ProbeSpec); ok && ra != nil {
		if rb, ok := b.(*ProbeSpec); ok && rb != nil {
			return ra.sameAs(rb)
		}
	}
	return reflect.DeepEqual(a, b)
}

// FormatIntOption writes an int option's value as a config would: an
// octal option (umask, socket_mode) in three digits, math.MaxInt as
// "unlimited". ok is false for an unset octal option (negative), which
// each door shows its own way.
func FormatIntOption(k Kind, x int) (text string, ok bool) {
	switch {
	case k == KindOctal && x < 0:
		return "", false
	case k == KindOctal:
		return fmt.Sprintf("%03o", x), true
	case x == math.MaxInt:
		return "unlimited", true
	}
	return strconv.Itoa(x), true
}

// FormatCodes writes a list of exit codes as a config would: "0,2".
func FormatCodes(codes []int) string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = strconv.Itoa(c)
	}
	return strings.Join(out, ",")
}
