package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// TrampolineArg is the hidden first argument that makes a tend binary act as
// the umask trampoline (see RunTrampoline).
const TrampolineArg = "__tend_exec"

// trampolinePid as the value of WATCHDOG_PID asks the trampoline to put
// its own pid there: the pid the program keeps across the exec, which tend
// cannot know before the fork.
const trampolinePid = "__tend_trampoline_pid"

// keepUmask in the umask slot of the trampoline's arguments leaves the
// umask alone: the trampoline then runs only to reset the child's signals
// (or to set LISTEN_PID).
const keepUmask = "-"

// The settings slot of the trampoline's arguments is the umask (or
// keepUmask), then optionally, comma-separated, "keep=N": descriptors 0 to
// N-1 are the program's (default 3), and "listen": set LISTEN_PID to the
// trampoline's pid, which exec makes the program's.
const (
	trampKeep   = "keep="
	trampListen = "listen"
)

// trampolineSettings is the parsed settings slot.
type trampolineSettings struct {
	umask  int // -1: leave it
	keep   int
	listen bool
}

func parseTrampolineSettings(slot string) (trampolineSettings, error) {
	ts := trampolineSettings{umask: -1, keep: 3}
	parts := strings.Split(slot, ",")
	if parts[0] != keepUmask {
		mask, err := strconv.ParseUint(parts[0], 8, 32)
		if err != nil {
			return ts, fmt.Errorf("bad umask %q", parts[0])
		}
		ts.umask = int(mask)
	}
	for _, p := range parts[1:] {
		switch {
		case p == trampListen:
			ts.listen = true
		case strings.HasPrefix(p, trampKeep):
			n, err := strconv.Atoi(strings.TrimPrefix(p, trampKeep))
			if err != nil || n < 3 {
				return ts, fmt.Errorf("bad setting %q", p)
			}
			ts.keep = n
		default:
			return ts, fmt.Errorf("bad setting %q", p)
		}
	}
	return ts, nil
}

// String writes the settings slot.
func (ts trampolineSettings) String() string {
	s := keepUmask
	if ts.umask >= 0 {
		s = strconv.FormatUint(uint64(ts.umask), 8)
	}
	if ts.keep > 3 {
		s += "," + trampKeep + strconv.Itoa(ts.keep)
	}
	if ts.listen {
		s += "," + trampListen
	}
	return s
}

// RunTrampoline must be called first thing in main by any binary named in
// Config.Trampoline. When the process was started as the trampoline
// (os.Args[1] == TrampolineArg) it sets the umask, resets the signal
// dispositions and mask tend inherited (see sigreset_linux.go) and execs
// the real program, never returning; otherwise it returns at once.
//
// umask is process-wide, so setting it in the daemon around fork would race
// with every goroutine creating files; a re-exec costs a few milliseconds
// and is paid only by programs that set umask.
func RunTrampoline() {
	if len(os.Args) < 4 || os.Args[1] != TrampolineArg {
		return
	}
	ts, err := parseTrampolineSettings(os.Args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
		os.Exit(127)
	}
	if ts.umask >= 0 {
		syscall.Umask(ts.umask)
	}
	env := os.Environ()
	if ts.listen {
		// sd_listen_fds(3) takes the descriptors only when LISTEN_PID is
		// the pid of the process reading it: this one, after exec.
		env = append(env, "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	}
	path := os.Args[3]
	runtime.LockOSThread() // the mask cleared below is this thread's
	if err := resetSignalsForExec(); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: %s may inherit blocked signals: %v\n", path, err)
	}
	// The trampoline is a Go program of its own: whatever its runtime (or
	// a race-detector build's) opened without close-on-exec must not reach
	// the program either.
	// The descriptors tend placed for the program (0 to keep-1) stay.
	fds := closeOnExec{first: ts.keep}
	if err := fds.apply(); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: descriptors may leak to %s: %v\n", path, err)
	}
	if i := slices.Index(env, "WATCHDOG_PID="+trampolinePid); i >= 0 {
		env[i] = "WATCHDOG_PID=" + strconv.Itoa(os.Getpid())
	}
	err = syscall.Exec(path, os.Args[4:], env)
	fmt.Fprintf(os.Stderr, "supervisor: couldn't exec %s: %s\n", path, errnoName(err))
	fmt.Fprintln(os.Stderr, "supervisor: child process was not spawned")
	os.Exit(127)
}

// buildEnv returns the child environment: the daemon's, the SUPERVISOR_*
// variables, then the program's environment, later entries winning.
func (e *Engine) buildEnv(s *Spec) []string {
	url := s.ServerURL
	if url == "" {
		url = e.cfg.ServerURL
	}
	extra := map[string]string{
		"SUPERVISOR_ENABLED":      "1",
		"SUPERVISOR_PROCESS_NAME": s.Name,
		"SUPERVISOR_GROUP_NAME":   s.Group,
	}
	if url != "" {
		extra["SUPERVISOR_SERVER_URL"] = url
	}
	for k, v := range s.Environment {
		extra[k] = v
	}
	env := make([]string, 0, len(e.environ)+len(extra))
	for _, kv := range e.environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := extra[k]; !over {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return listenEnv(env, s)
}

// childPath is the PATH the child's environment holds (childEnv), read
// without building the environment.
func (p *process) childPath() string {
	if v, ok := p.spec.Environment["PATH"]; ok {
		return v
	}
	return envLookup(p.e.environ, "PATH")
}

// childEnv returns the process's child environment. It is built at each
// use rather than kept: a few microseconds per spawn, against the better
// part of a kilobyte per process held for its lifetime (4 MB at 5,000).
func (p *process) childEnv() []string {
	return p.e.buildEnv(&p.spec)
}

func envLookup(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// ResolveCommand finds the file a process with environment env (KEY=value;
// its PATH, else the daemon's) would execute for argv0, as a spawn does.
// The error's detail is supervisord's: "can't find command 'x'", "command
// at '/x' is not executable". tend check uses it to warn early.
func ResolveCommand(argv0 string, env []string) (string, error) {
	path, err := resolveCommand(argv0, envLookup(env, "PATH"))
	if err != nil {
		return "", errors.New(err.Detail)
	}
	return path, nil
}

// resolveCommand finds the program to execute with supervisord's errors,
// searching pathList (a PATH value; the daemon's own when empty).
func resolveCommand(argv0, pathList string) (string, *Error) {
	if argv0 == "" {
		return "", fault(FaultNoFile, "no command given")
	}
	candidates := []string{argv0}
	if !strings.Contains(argv0, "/") {
		candidates = nil
		if pathList == "" {
			pathList = os.Getenv("PATH")
		}
		for _, dir := range filepath.SplitList(pathList) {
			if dir == "" {
				dir = "."
			}
			candidates = append(candidates, filepath.Join(dir, argv0))
		}
	}
	var found string
	for _, c := range candidates {
		st, err := os.Stat(c)
		if err != nil || st.IsDir() {
			continue
		}
		if st.Mode()&0o111 != 0 {
			return c, nil
		}
		if found == "" {
			found = c
		}
	}
	if found != "" {
		return "", fault(FaultNotExecutable, fmt.Sprintf("command at '%s' is not executable", found))
	}
	return "", fault(FaultNoFile, fmt.Sprintf("can't find command '%s'", argv0))
}

// commandPathLocked resolves the command, reusing the last answer while
// that file is still an executable: a crash-looping or respawning process
// then costs one stat instead of one per PATH entry. A process's first
// spawn reuses what another process with the same command and PATH found
// within lookupFresh (see Engine.lookups), so starting 5,000 instances of
// one program searches PATH once, not 5,000 times.
func (p *process) commandPathLocked() (string, *Error) {
	if p.cmdPath != "" && isExecutableFile(p.cmdPath) {
		return p.cmdPath, nil
	}
	path, err := p.e.findCommandLocked(p.spec.Command[0], p.childPath())
	p.cmdPath = path
	return path, err
}

// findCommandLocked is resolveCommand with the recent PATH searches kept
// in e.lookups.
func (e *Engine) findCommandLocked(argv0, pathList string) (string, *Error) {
	if strings.Contains(argv0, "/") {
		return resolveCommand(argv0, pathList) // not a PATH search
	}
	key := lookupKey{argv0: argv0, path: pathList}
	if l, ok := e.lookups[key]; ok && time.Since(l.at) < lookupFresh && isExecutableFile(l.found) {
		return l.found, nil
	}
	path, err := resolveCommand(argv0, pathList)
	if err == nil {
		if e.lookups == nil || len(e.lookups) >= maxLookups {
			e.lookups = make(map[lookupKey]lookup)
		}
		e.lookups[key] = lookup{found: path, at: time.Now()}
	}
	return path, err
}

// lookupKey is what a PATH search depends on.
type lookupKey struct{ argv0, path string }

// lookup is one PATH search's answer and when it was made.
type lookup struct {
	found string
	at    time.Time
}

// lookupFresh is how long a PATH search answers for other processes: long
// enough to cover a burst of starts, short enough that a program installed
// earlier in PATH is found as supervisord, which searches at every spawn,
// would find it. maxLookups bounds the table (it is emptied when full).
const (
	lookupFresh = 2 * time.Second
	maxLookups  = 256
)

// isExecutableFile reports whether path is a regular file someone may
// execute.
func isExecutableFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// CheckCommand reports whether the process's command can be executed,
// failing with NO_FILE or NOT_EXECUTABLE as supervisord's startProcess does.
func (p *process) checkCommandLocked() error {
	if len(p.spec.Command) == 0 {
		return fault(FaultNoFile, "no command given")
	}
	// The same lookup as the spawn's, which then costs one stat.
	if _, err := p.commandPathLocked(); err != nil {
		return err
	}
	return nil
}

// openLogsLocked opens the process's log files on first use.
func (p *process) openLogsLocked() error {
	var err error
	if p.stdout == nil {
		p.stdout, err = p.e.openLog(&p.spec, p.spec.Stdout, "stdout")
		if err != nil {
			return err
		}
		if p.stdout != nil {
			p.e.logWriters(p.stdout.Path()).Add(1)
		}
	}
	if p.stderr == nil && !p.spec.RedirectStderr {
		p.stderr, err = p.e.openLog(&p.spec, p.spec.Stderr, "stderr")
		if p.stderr != nil {
			p.e.logWriters(p.stderr.Path()).Add(1)
		}
	}
	return err
}

// openLog opens one of a process's logs. Its error names the file (or,
// for an automatic name, the folder) once, with the errno as supervisord
// words spawn errors: "couldn't open stdout log /x/out.log: ENOENT".
func (e *Engine) openLog(s *Spec, ls LogSpec, channel string) (*logfile.File, error) {
	switch ls.Path {
	case LogNone:
		return nil, nil
	case "", LogAuto:
		name, err := logfile.AutoName(e.cfg.ChildLogDir, s.Name, channel)
		if err != nil {
			dir := e.cfg.ChildLogDir
			if dir == "" {
				dir = os.TempDir()
			}
			return nil, fmt.Errorf("couldn't open %s log in %s: %s", channel, dir, errnoName(err))
		}
		f, err := logfile.OpenMode(name, ls.MaxBytes, ls.Backups, 0o600)
		if err != nil {
			return nil, fmt.Errorf("couldn't open %s log %s: %s", channel, name, errnoName(err))
		}
		return released(f), nil
	}
	f, err := logfile.Open(ls.Path, ls.MaxBytes, ls.Backups)
	if err != nil {
		return nil, fmt.Errorf("couldn't open %s log %s: %s", channel, ls.Path, errnoName(err))
	}
	return released(f), nil
}

// released lets go of a log's descriptor until the child writes: quiet
// processes then hold none (see FDsFor). Opening it first still creates
// the file, and reports a bad path at spawn, as supervisord does.
func released(f *logfile.File) *logfile.File {
	f.Release() // the descriptor is gone even when close reports an error
	return f
}

// spawnLocked forks and execs the child. On success p.pid is set and the
// child is registered for reaping before Engine.mu is released, so even an
// instant exit is attributed correctly.
func (p *process) spawnLocked() error {
	s := &p.spec
	if len(s.Command) == 0 {
		return errors.New("no command given")
	}
	path, ferr := p.commandPathLocked()
	if ferr != nil {
		return errors.New(ferr.Detail)
	}
	cred, err := p.credentialLocked()
	if err != nil {
		return err
	}
	if err := p.openLogsLocked(); err != nil {
		return err
	}
	if s.Directory != "" {
		if st, err := os.Stat(s.Directory); err != nil || !st.IsDir() {
			return p.childSideFailureLocked(fmt.Sprintf("couldn't chdir to %s: %s", s.Directory, errnoName(err)))
		}
	}
	fcgi, listen, err := p.e.socketFilesLocked(s)
	if err != nil {
		return err
	}
	// With the watchdog, the trampoline also sets WATCHDOG_PID to the
	// child's pid.
	watchdogPid := len(p.e.cfg.Trampoline) > 0 && s.Watchdog > 0 && s.Ready != nil && s.Ready.Notify
	rr, err := p.prepareReadyLocked()
	if err != nil {
		return err
	}
	if watchdogPid && rr != nil && len(rr.watchdogEnv) > 0 {
		rr.watchdogEnv = append(rr.watchdogEnv, "WATCHDOG_PID="+trampolinePid)
	}
	pp, err := newPipes(s.RedirectStderr)
	if err != nil {
		if rr != nil {
			rr.end()
		}
		return fmt.Errorf("make pipes for %s: %w", s.Name, err)
	}
	pidfd := -1
	sys := &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if p.e.pump != nil && !p.e.noPidfd {
		sys.PidFD = &pidfd
	}
	env := p.childEnv()
	attr := &syscall.ProcAttr{Dir: s.Directory, Env: env, Files: pp.childFiles(), Sys: sys}
	if fcgi != nil {
		// supervisord's FastCGI rule: the socket is the child's stdin.
		attr.Files[0] = fcgi.Fd()
	}
	for _, f := range listen {
		attr.Files = append(attr.Files, f.Fd())
	}
	if rr != nil {
		attr.Env, attr.Files = rr.childEnv(env), rr.childFiles(attr.Files)
	}
	argv0, argv, err := p.trampolineLocked(path, len(attr.Files), len(listen) > 0, watchdogPid)
	if err != nil {
		pp.closeChildEnds()
		pp.closeParentEnds()
		if rr != nil {
			rr.end()
		}
		return err
	}
	// Again at each spawn: a library may have opened a descriptor without
	// close-on-exec since the last one.
	if err := p.e.cloexec.apply(); err != nil {
		p.logf(slog.LevelWarn, "%s may inherit stray descriptors: %v", s.Name, err)
	}
	pid, err := syscall.ForkExec(argv0, argv, attr)
	pp.closeChildEnds()
	if err != nil {
		pp.closeParentEnds()
		if rr != nil {
			rr.end()
		}
		return fmt.Errorf("couldn't exec %s: %s", s.Command[0], errnoName(err))
	}
	p.pid = pid
	p.start = p.e.clock.Now()
	if p.e.state.path != "" {
		// The child cannot be reaped while mu is held, so this is its
		// start time even if it already exited.
		if st, err := readProcStat(pid); err == nil {
			p.startTicks = st.Start
		}
		p.e.stateChangedLocked()
	}
	p.e.byPid[pid] = p
	p.e.watchExit(pid, pidfd)
	p.stdin = pp.stdinW
	if fcgi != nil {
		// Nothing reads the pipe: its read end went unused.
		pp.stdinW.Close()
		p.stdin = nil
	}
	if rr != nil {
		p.startReadyLocked(rr)
	}
	p.captureLocked(pp)
	p.logf(slog.LevelInfo, "spawned: '%s' with pid %d", s.Name, pid)
	return nil
}

// trampolineLocked returns the path and argv to exec for the process at
// path: the command itself, or the trampoline when the child needs a
// umask, default signals (tend inherited ignored or blocked ones, see
// sigreset_linux.go) or LISTEN_PID. keep is how many descriptors the child
// gets from tend.
func (p *process) trampolineLocked(path string, keep int, listen, watchdogPid bool) (string, []string, error) {
	s := &p.spec
	tramp := p.e.cfg.Trampoline
	if s.Umask < 0 && !listen && !watchdogPid && (len(tramp) == 0 || !signalsLeak(p.e.sigmask)) {
		return path, s.Command, nil
	}
	if len(tramp) == 0 {
		if listen {
			return "", nil, errNoTrampoline
		}
		return "", nil, errors.New("umask is set but this engine has no trampoline to apply it")
	}
	ts := trampolineSettings{umask: s.Umask, keep: keep, listen: listen}
	argv0 := tramp[0]
	argv := append(append(append([]string{}, tramp...), ts.String(), path), s.Command...)
	if !filepath.IsAbs(argv0) {
		argv0, _ = filepath.Abs(argv0)
	}
	return argv0, argv, nil
}

// childSideFailureLocked reproduces supervisord for errors its forked child
// reports (bad directory): the message goes to the process's stderr log and
// the start counts as an exit within startsecs; the error is the message.
func (p *process) childSideFailureLocked(msg string) error {
	text := "supervisor: " + msg + "\nsupervisor: child process was not spawned\n"
	if w := p.stderrSink(); w != nil {
		w.Write([]byte(text))
	}
	p.spawnErrIsExit = true
	return errors.New(msg)
}

func (p *process) stderrSink() *logfile.File {
	if p.spec.RedirectStderr || p.stderr == nil {
		return p.stdout
	}
	return p.stderr
}

// credentialLocked returns the uid, gid and supplementary groups for the
// spec's user, resolving a name if the loader did not.
func (p *process) credentialLocked() (*syscall.Credential, error) {
	if p.spec.Credential != nil {
		return p.spec.Credential, nil
	}
	if p.spec.User == "" {
		return nil, nil
	}
	c, err := LookupCredential(p.spec.User)
	if err != nil {
		return nil, err
	}
	p.spec.Credential = c
	return c, nil
}

// LookupCredential resolves a user name or numeric uid to its uid, primary
// gid and every group listing it, as supervisord's drop_privileges does.
func LookupCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return nil, fmt.Errorf("Invalid user name %s", name)
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	ids, err := u.GroupIds()
	if err == nil {
		c.Groups = make([]uint32, 0, len(ids))
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				c.Groups = append(c.Groups, uint32(g))
			}
		}
	}
	if len(c.Groups) == 0 {
		c.Groups = []uint32{c.Gid}
	}
	return c, nil
}

// errnoName names an errno as Python does (ENOENT), or returns err's text.
func errnoName(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		if n, ok := errnoNames[en]; ok {
			return n
		}
		return en.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return errnoName(pe.Err)
	}
	if err == nil {
		return "ENOTDIR"
	}
	return err.Error()
}

var errnoNames = map[syscall.Errno]string{
	syscall.ENOENT: "ENOENT", syscall.EACCES: "EACCES", syscall.ENOTDIR: "ENOTDIR",
	syscall.EPERM: "EPERM", syscall.ENOEXEC: "ENOEXEC", syscall.E2BIG: "E2BIG",
	syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM", syscall.EMFILE: "EMFILE",
}
