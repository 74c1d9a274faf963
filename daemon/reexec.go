package daemon

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/version"
	"github.com/tend-sh/tend/vm"
)

// Re-exec: tend reexec [--binary PATH] replaces the daemon's program with
// a new binary under the same pid, so that it stays the parent (and
// reaper) of every child, which never notices. The protocol, in order:
//
// In the running (old) binary, on POST /v1/reexec:
//
//  1. Check the binary: a regular, executable file. Check the config on
//     disk loads and has no change pending (reread shows nothing): the new
//     binary loads it again, and a pending change would mix an update
//     into the re-exec.
//  2. Check the new binary can resume: describe the engine (a state of the
//     handoff's format, without descriptors), write it to a memfd and run
//     NEW daemon --check-resume 3 with it as descriptor 3. The new binary
//     parses the state and loads the config, touching nothing, and prints
//     its version. If it fails (not a tend, too old to resume, the config
//     does not load for it), the client gets the reason; the daemon never
//     paused. This runs before the window: it costs a Go start and a load.
//  3. Take the config transaction lock (no update, reload or scale runs).
//  4. Close the door: every listener stops accepting (new connections wait
//     in the kernel's backlog for whichever binary serves next), requests
//     on open connections are refused with "re-exec in progress", and the
//     requests in progress are let finish (up to reexecDrain). The window
//     starts here.
//  5. Freeze the engine (supervisor.Engine.Freeze): the output pump and
//     the readers of framed streams (log_prefix, /dev/stdout logs) park
//     between two reads, an unfinished line they hold goes with the state,
//     and the engine lock is held from then on, so no
//     state changes, no timer fires, no hook answer lands and no child is
//     reaped. A child that exits now stays a zombie holding its status.
//  6. Write the handoff state (JSON with a version) to a new memfd: the
//     engine's processes and their descriptors, the daemon's flags and
//     config path, the listening sockets, the extra descriptors (held
//     sockets), a descriptor of this binary's own executable.
//  7. Answer the client (the new version) and flush the answer.
//  8. Under syscall.ForkLock (no fork may inherit them), clear close-on-exec
//     on the descriptors to keep: the children's output pipe read ends and
//     stdin write ends, sd_notify sockets, the listening sockets, the extra
//     descriptors, the memfd and the old executable. Then execve(NEW,
//     [NEW daemon --resume STATE:EXE]). Every other descriptor (client
//     connections, log files, epoll) closes. If execve fails, close-on-exec
//     is set again, the engine thaws, the door opens, the lock is released
//     and the failure is recorded for GET /v1/reexec.
//
// In the new binary (tend daemon --resume STATE:EXE):
//
//  9. Read the state, load the config (daemon.Open), take over the
//     listening sockets (Listen), create the engine and Resume it: every
//     pid is checked to be the same process (start time), its pipes are
//     read on into the same log files (opened again by path, appending),
//     its timers are armed with what was left of them, and a hook that had
//     not answered is asked again. Bytes the children wrote during the
//     window were never read by the old binary: they are still in the
//     pipes, so no line is lost or written twice. Zombies are reaped with
//     their true status and handled by the usual rules (autorestart,
//     hooks, history).
//  10. Serve: the window ends. GET /v1/reexec reports the new version and
//     the window's length; the client that asked polls it.
//
// If the new binary cannot resume (step 9 fails before it changed
// anything), it execs the old binary again from the descriptor it was
// handed (fexecve of /proc/self/fd/EXE, so a binary replaced on disk is
// still the old one), with --resume-failed REASON: the old binary resumes
// from the same state and reports the failure. The remaining hole is a
// new binary that crashes or hangs after the check passed and before it
// serves: the children keep running (never signalled), but nobody reads
// their pipes; a later tend start finds them through the state file
// (daemon{ orphans }).
//
// What is not carried: the Lua state (hooks and globals are rebuilt by
// loading the config; globals set at run time are lost) and the events an
// event listener pool had queued (re-exec refuses while a listener runs).

// Flags of tend daemon for a re-exec.
const (
	// ResumeFlag makes tend daemon resume from a handoff: --resume STATE:EXE.
	ResumeFlag = "--resume"
	// ResumeFailedFlag, after ResumeFlag, says the binary resumed is the
	// previous one because the new one could not: --resume-failed REASON.
	ResumeFailedFlag = "--resume-failed"
	// CheckResumeFlag makes tend daemon check that it can resume from the
	// state on a descriptor, and print its version: --check-resume FD.
	CheckResumeFlag = "--check-resume"
)

// handoffVersion is the format version of the handoff state. A binary
// refuses a state of a version it does not know.
const handoffVersion = 1

// reexecDrain bounds the wait for the control requests in progress.
const reexecDrain = 10 * time.Second

// reexecCheckTimeout bounds the new binary's --check-resume run.
const reexecCheckTimeout = 30 * time.Second

// ExtraFD is a named descriptor a re-exec carries: one of the daemon's
// listening sockets (its door's name).
type ExtraFD struct {
	Name string `json:"name"`
	FD   int    `json:"fd"`
}

// handoffState is what the old binary hands the new one.
type handoffState struct {
	Version     int            `json:"version"`
	Generation  int            `json:"generation"` // re-execs of this pid so far, this one included
	Binary      string         `json:"binary"`
	FromVersion string         `json:"from_version"`
	FrozenAt    int64          `json:"frozen_at_mono_ns"` // CLOCK_MONOTONIC: the window's start
	Options     handoffOptions `json:"options"`
	Pidfile     string         `json:"pidfile,omitempty"`
	SetUID      string         `json:"setuid,omitempty"`
	ExeFD       int            `json:"exe_fd"`
	Doors       []ExtraFD      `json:"doors"`
	Engine      supervisor.Handoff
}

// handoffOptions are the daemon's flags (Options) as a re-exec carries them.
type handoffOptions struct {
	Path        string            `json:"config"`
	Echo        bool              `json:"echo,omitempty"` // the log goes to stderr too
	Detached    bool              `json:"detached,omitempty"`
	Supervisord map[string]string `json:"supervisord,omitempty"`
	Main        []string          `json:"main,omitempty"`
	Container   bool              `json:"container,omitempty"`
	Trampoline  []string          `json:"trampoline,omitempty"`
}

// Resume is the handoff a resumed daemon starts from (Options.Resume).
type Resume struct {
	state   handoffState
	stateFD int
	failed  string     // why the new binary gave up (we are the old one again)
	files   []*os.File // inherited descriptors to close once committed
	// unlink are the unix listeners whose socket file goes with them
	// once committed.
	unlink []*net.UnixListener
}

// ReexecStatus reports the daemon's version and its last re-exec.
func (d *Daemon) ReexecStatus() control.ReexecStatus {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	st := d.rxStatus
	st.Pid, st.Version = os.Getpid(), version.String()
	return st
}

// Reexec prepares the re-exec of binary ("" = the executable this daemon
// started from): steps 1 to 6 of the protocol above. On success the daemon
// is frozen; the caller answers its client, then calls exec (steps 7 and
// 8), which returns only if the exec failed.
func (d *Daemon) Reexec(ctx context.Context, binary string) (control.ReexecReply, func(), error) {
	var none control.ReexecReply
	d.rxMu.Lock()
	if d.rxBusy {
		d.rxMu.Unlock()
		return none, nil, errReexecRunning
	}
	d.rxBusy = true
	d.rxMu.Unlock()
	x, err := d.prepareReexec(ctx, binary)
	if err != nil {
		d.rxMu.Lock()
		d.rxBusy = false
		d.rxMu.Unlock()
		d.log.Error("re-exec refused: " + err.Error())
		return none, nil, err
	}
	reply := control.ReexecReply{Generation: x.state.Generation, Pid: os.Getpid(), Binary: x.state.Binary,
		FromVersion: version.String(), ToVersion: x.newVersion}
	return reply, x.exec, nil
}

// reexec is a re-exec prepared: the daemon frozen, the state written.
type reexec struct {
	d          *Daemon
	state      handoffState
	memfd      int
	frozen     *supervisor.Frozen
	doorFDs    []int
	newVersion string
	undo       []func() // in reverse order of doing
}

// abort undoes a prepared re-exec: the daemon goes on as before.
func (x *reexec) abort() {
	for i := len(x.undo) - 1; i >= 0; i-- {
		x.undo[i]()
	}
	x.undo = nil
}

func (d *Daemon) prepareReexec(ctx context.Context, binary string) (*reexec, error) {
	eng, err := d.engine()
	if err != nil {
		return nil, err
	}
	path, err := d.reexecBinary(binary)
	if err != nil {
		return nil, err
	}
	if changes, err := d.Reread(ctx); err != nil {
		return nil, fmt.Errorf("the config does not load: %w", err)
	} else if len(changes) > 0 {
		var groups []string
		for _, c := range changes {
			groups = append(groups, c.Group)
		}
		return nil, fmt.Errorf("the config on disk differs from the running one (%s): apply it with tend update first, or undo the edit",
			strings.Join(groups, ", "))
	}
	// The check runs before the door closes, on a state of the same
	// format made now: it costs a start of the new binary and a load of
	// the config, which the window need not include.
	preview, err := eng.Describe()
	if err != nil {
		return nil, err
	}
	x := &reexec{d: d, memfd: -1}
	ok := false
	defer func() {
		if !ok {
			x.abort()
		}
	}()
	x.state = d.handoffState(path, 0, preview, nil)
	if x.memfd, err = writeHandoff(x.state); err != nil {
		return nil, err
	}
	newVersion, err := checkResume(ctx, path, x.memfd)
	unix.Close(x.memfd)
	if err != nil {
		return nil, err
	}
	x.newVersion = newVersion
	d.txMu.Lock()
	x.undo = append(x.undo, d.txMu.Unlock)
	if err := d.closeDoor(ctx, x); err != nil {
		return nil, err
	}
	frozenAt := monoNow()
	frozen, err := eng.Freeze()
	if err != nil {
		return nil, err
	}
	x.frozen = frozen
	x.undo = append(x.undo, frozen.Thaw)
	x.state = d.handoffState(path, frozenAt, frozen.State(), x.doorFDs)
	if x.memfd, err = writeHandoff(x.state); err != nil {
		return nil, err
	}
	x.undo = append(x.undo, func() { unix.Close(x.memfd) })
	testHold()
	ok = true
	return x, nil
}

// reexecBinary resolves and checks the binary to exec.
func (d *Daemon) reexecBinary(binary string) (string, error) {
	if binary == "" {
		binary = d.exePath
	}
	if binary == "" {
		return "", errors.New("cannot tell which executable this daemon runs: give --binary")
	}
	path, err := filepath.Abs(binary)
	if err != nil {
		return "", fmt.Errorf("binary %s: %w", binary, err)
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return "", fmt.Errorf("binary %s: %w", binary, err)
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("binary %s is not a regular file", binary)
	case st.Mode()&0o111 == 0 || unix.Access(path, unix.X_OK) != nil:
		return "", fmt.Errorf("binary %s is not executable", binary)
	}
	return path, nil
}

// closeDoor stops every listener accepting, refuses new requests and
// waits for those in progress (step 4).
func (d *Daemon) closeDoor(ctx context.Context, x *reexec) error {
	d.doorsMu.Lock()
	doors := append([]*pausableListener(nil), d.doors...)
	d.doorsMu.Unlock()
	for _, l := range doors {
		fd, err := l.fd()
		if err != nil {
			return fmt.Errorf("listener %s: %w", l.name, err)
		}
		x.doorFDs = append(x.doorFDs, fd)
		l.pause()
		x.undo = append(x.undo, l.resume)
	}
	keep := 0
	if ctx.Value(gateKey{}) != nil {
		keep = 1 // the request asking for the re-exec
	}
	wctx, cancel := context.WithTimeout(ctx, reexecDrain)
	defer cancel()
	n, err := d.gate.close(wctx, keep)
	if err != nil {
		return fmt.Errorf("%d control requests still running after %s: try again", n, reexecDrain)
	}
	x.undo = append(x.undo, d.gate.open)
	return nil
}

// handoffState gathers the state to hand over (steps 2 and 6).
func (d *Daemon) handoffState(path string, frozenAt int64, engine supervisor.Handoff, doorFDs []int) handoffState {
	d.rxMu.Lock()
	gen := d.rxStatus.Generation + 1
	d.rxMu.Unlock()
	o := d.opts
	st := handoffState{Version: handoffVersion, Generation: gen, Binary: path, FromVersion: version.String(),
		FrozenAt: frozenAt, Pidfile: d.pidfile, SetUID: d.setUID, ExeFD: d.exeFD, Engine: engine,
		Options: handoffOptions{Path: cmp.Or(d.absPath, d.path), Echo: o.Echo != nil, Detached: o.Detached, Supervisord: o.Supervisord,
			Main: o.Main, Container: o.Container, Trampoline: o.Trampoline}}
	d.doorsMu.Lock()
	for i, fd := range doorFDs {
		st.Doors = append(st.Doors, ExtraFD{Name: d.doors[i].name, FD: fd})
	}
	d.doorsMu.Unlock()
	return st
}

// fds lists every descriptor the new binary inherits.
func (st *handoffState) fds(stateFD int, engine []int) []int {
	out := append([]int{stateFD}, engine...)
	if st.ExeFD >= 0 {
		out = append(out, st.ExeFD)
	}
	for _, f := range st.Doors {
		out = append(out, f.FD)
	}
	return out
}

// writeHandoff writes the state to a new memfd (close-on-exec until the
// exec clears it).
func writeHandoff(st handoffState) (int, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return -1, fmt.Errorf("encode the handoff: %w", err)
	}
	fd, err := unix.MemfdCreate("tend-handoff", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd for the handoff: %w", err)
	}
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("write the handoff: %w", err)
		}
		off += n
	}
	return fd, nil
}

// readHandoff reads the state from fd, from its start.
func readHandoff(fd int) (handoffState, error) {
	var st handoffState
	var buf bytes.Buffer
	b := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := unix.Pread(fd, b, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("read the handoff (fd %d): %w", fd, err)
		}
		if n == 0 {
			break
		}
		buf.Write(b[:n])
		off += int64(n)
	}
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		return handoffState{}, fmt.Errorf("read the handoff (fd %d): %w", fd, err)
	}
	if st.Version != handoffVersion {
		return handoffState{}, fmt.Errorf("the handoff has format version %d; this tend (%s) reads version %d",
			st.Version, version.String(), handoffVersion)
	}
	return st, nil
}

// checkResume runs the new binary's --check-resume on the state (step 2)
// and returns the version it reports.
func checkResume(ctx context.Context, path string, memfd int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, reexecCheckTimeout)
	defer cancel()
	dup, err := unix.FcntlInt(uintptr(memfd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return "", fmt.Errorf("check %s: %w", path, err)
	}
	f := os.NewFile(uintptr(dup), "handoff")
	defer f.Close()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "daemon", CheckResumeFlag, "3")
	cmd.Args[0] = "tend" // argv[0] picks the personality: a supervisord link would not take these flags
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	// The check succeeds when it prints its answer (it does so only on
	// success, as it exits 0). Its exit status alone cannot be trusted:
	// a subreaper engine, running meanwhile, may reap it first (ECHILD).
	runErr := cmd.Run()
	var r checkReply
	if json.Unmarshal(out.Bytes(), &r) == nil && r.Version != "" && (runErr == nil || errors.Is(runErr, syscall.ECHILD)) {
		return r.Version, nil
	}
	why := strings.TrimSpace(errOut.String())
	if why == "" {
		why = strings.TrimSpace(out.String())
	}
	if why != "" {
		why = ": " + why
	}
	status := "it gave no answer to " + CheckResumeFlag
	if runErr != nil && !errors.Is(runErr, syscall.ECHILD) {
		status = runErr.Error()
	}
	return "", fmt.Errorf("%s cannot resume this daemon (%s)%s", path, status, why)
}

// checkReply is what --check-resume prints.
type checkReply struct {
	Version   string `json:"version"`
	Processes int    `json:"processes"`
}

// CheckResume is tend daemon --check-resume FD: it reads the handoff state
// on fd and loads the config it names, touching nothing else, and prints
// its version as JSON. The daemon about to exec this binary runs it first.
func CheckResume(ctx context.Context, fd int) ([]byte, error) {
	st, err := readHandoff(fd)
	if err != nil {
		return nil, err
	}
	v, _, err := vm.Load(ctx, st.Options.Path, vm.Options{Supervisord: st.Options.Supervisord})
	if err != nil {
		return nil, fmt.Errorf("load the config: %w", err)
	}
	v.Close()
	b, err := json.Marshal(checkReply{Version: version.String(), Processes: len(st.Engine.Processes)})
	return append(b, '\n'), err
}

// exec is steps 7 and 8: clear close-on-exec on what the new binary
// inherits and exec it. It returns only when the exec failed, after
// undoing everything.
func (x *reexec) exec() {
	d := x.d
	fds := x.state.fds(x.memfd, x.frozen.Fds())
	argv := []string{"tend", "daemon", ResumeFlag, strconv.Itoa(x.memfd) + ":" + strconv.Itoa(x.state.ExeFD)}
	d.log.Info(fmt.Sprintf("re-exec: executing %s (pid %d, %d processes)", x.state.Binary, os.Getpid(), len(x.state.Engine.Processes)))
	syscall.ForkLock.Lock()
	err := inherit(fds, true)
	if err == nil {
		err = syscall.Exec(x.state.Binary, argv, os.Environ())
		err = fmt.Errorf("exec %s: %w", x.state.Binary, err)
	}
	inherit(fds, false)
	syscall.ForkLock.Unlock()
	x.abort()
	d.log.Error("re-exec failed, going on as version " + version.String() + ": " + err.Error())
	d.rxMu.Lock()
	d.rxStatus = control.ReexecStatus{Generation: x.state.Generation, Binary: x.state.Binary, Time: time.Now(), Error: err.Error()}
	d.rxBusy = false
	d.rxMu.Unlock()
}

// inherit clears (on) or sets close-on-exec on fds.
func inherit(fds []int, on bool) error {
	for _, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil {
			if on {
				flags &^= unix.FD_CLOEXEC
			} else {
				flags |= unix.FD_CLOEXEC
			}
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags)
		}
		if err != nil && on {
			return fmt.Errorf("keep descriptor %d across exec: %w", fd, err)
		}
	}
	return nil
}

// monoNow reads CLOCK_MONOTONIC, which an exec does not reset (Go's
// monotonic readings are relative to the process's start).
func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// ReadResume reads the handoff of tend daemon --resume STATE:EXE and
// returns the options the previous binary ran with, Resume set. failed is
// the reason given with --resume-failed ("" when none).
func ReadResume(arg, failed string) (Options, error) {
	stateFD, _, err := parseResumeArg(arg)
	if err != nil {
		return Options{}, err
	}
	st, err := readHandoff(stateFD)
	if err != nil {
		return Options{}, err
	}
	o := st.Options
	opts := Options{Path: o.Path, Detached: o.Detached, Supervisord: o.Supervisord, Main: o.Main,
		Container: o.Container, Trampoline: o.Trampoline,
		Resume: &Resume{state: st, stateFD: stateFD, failed: failed}}
	if o.Echo {
		opts.Echo = os.Stderr
	}
	return opts, nil
}

// parseResumeArg parses STATE:EXE.
func parseResumeArg(arg string) (stateFD, exeFD int, err error) {
	a, b, ok := strings.Cut(arg, ":")
	stateFD, err1 := strconv.Atoi(a)
	exeFD, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || stateFD < 3 {
		return -1, -1, fmt.Errorf("%s wants STATE:EXE descriptors, got %q", ResumeFlag, arg)
	}
	return stateFD, exeFD, nil
}

// FallBack is what a binary that cannot resume does (tend daemon
// --resume failed before it changed anything): it execs the previous
// binary, from the descriptor it was handed, with the same state and
// --resume-failed saying why. It returns only if that is impossible: the
// binary is the fallback already (failed is set), or the exec failed;
// the children then keep running unwatched, for a later tend to find.
func FallBack(arg, failed string, cause error) error {
	stateFD, exeFD, err := parseResumeArg(arg)
	if err != nil || failed != "" || exeFD < 0 {
		return cause
	}
	fds := []int{stateFD, exeFD}
	if st, err := readHandoff(stateFD); err == nil {
		fds = st.fds(stateFD, nil)
		for _, p := range st.Engine.Processes {
			for _, fd := range []int{p.Stdout, p.Stderr, p.Stdin, p.NotifyFD} {
				if fd >= 0 {
					fds = append(fds, fd)
				}
			}
		}
	}
	if err := inherit(fds, true); err != nil {
		return errors.Join(cause, err)
	}
	reason := cause.Error()
	exe := "/proc/self/fd/" + strconv.Itoa(exeFD)
	err = syscall.Exec(exe, []string{"tend", "daemon", ResumeFlag, arg, ResumeFailedFlag, reason}, os.Environ())
	return errors.Join(cause, fmt.Errorf("fall back to the previous binary: %w", err))
}

// resumed finishes a resume once the engine has taken everything over:
// the inherited descriptors the daemon re-wrapped are closed.
func (d *Daemon) resumed() {
	r := d.resume
	for _, f := range r.files {
		f.Close()
	}
	for _, ul := range r.unlink {
		ul.SetUnlinkOnClose(true)
	}
	r.files, r.unlink = nil, nil
	unix.Close(r.stateFD)
	if r.state.ExeFD >= 0 {
		unix.Close(r.state.ExeFD)
	}
}

// reexecServing records, as the resumed daemon starts serving, that the
// re-exec is done (step 10), and logs how long it took.
func (d *Daemon) reexecServing() {
	r := d.resume
	window := time.Duration(monoNow() - r.state.FrozenAt)
	ms := float64(window.Microseconds()) / 1000
	st := control.ReexecStatus{Generation: r.state.Generation, Binary: r.state.Binary, Time: time.Now(), WindowMS: ms, Error: r.failed}
	d.rxMu.Lock()
	d.rxStatus = st
	d.rxMu.Unlock()
	if r.failed != "" {
		d.log.Error(fmt.Sprintf("re-exec of %s failed, resumed as version %s (pid %d) in %.1f ms: %s",
			r.state.Binary, version.String(), os.Getpid(), ms, r.failed))
		return
	}
	d.log.Info(fmt.Sprintf("re-exec done: tend %s -> %s (pid %d, %d processes) in %.1f ms",
		r.state.FromVersion, version.String(), os.Getpid(), len(r.state.Engine.Processes), ms))
}
