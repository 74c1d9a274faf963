package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of the ready option's common fields.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultReadyPeriod  = time.Second
)

// ReadySpec says how the engine learns that a started process is ready
// (the ready option). Exactly one way is set. With a ReadySpec, STARTING
// becomes RUNNING only once startsecs have passed and the process is
// ready; a process not ready within Timeout is killed and its start counts
// as failed (BACKOFF, then FATAL), never as a success.
type ReadySpec struct {
	// Notify is systemd's sd_notify protocol: the engine makes a unix
	// datagram socket per run and passes it as NOTIFY_SOCKET.
	Notify bool
	// NotifyAccess says whose datagrams are believed: "main" (the main
	// pid, the default), "group" (its process group) or "all".
	NotifyAccess string
	// FD is s6's notification-fd: the write end of a pipe is the child's
	// descriptor FD (>= 3); ready at the first newline written to it.
	FD int
	// HTTP is a URL: ready when a GET answers 2xx or 3xx.
	HTTP string
	// TCP is host:port: ready when a connection succeeds.
	TCP string
	// Exec is a shell command: ready when it exits 0.
	Exec string
	// Log is a plain substring: ready when the process's stdout or
	// stderr contains it.
	Log string
	// Check is a scripted check (the config's Lua function), called under
	// HookTimeout on a goroutine of its own.
	Check ReadyCheck

	Timeout      time.Duration // give up after this long; 0 = DefaultReadyTimeout
	Period       time.Duration // between two polls; 0 = DefaultReadyPeriod
	InitialDelay time.Duration // before the first poll
}

// ReadyCheck is a scripted check: the check field of ready (is p ready?)
// and of probe (is p still healthy?). An error counts as not ready, or as
// a failed probe.
type ReadyCheck interface {
	Ready(ctx context.Context, p Info) (bool, error)
}

func (r *ReadySpec) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultReadyTimeout
}

func (r *ReadySpec) period() time.Duration {
	if r.Period > 0 {
		return r.Period
	}
	return DefaultReadyPeriod
}

// Validate reports a ReadySpec that sets no way or more than one.
func (r *ReadySpec) Validate() error {
	n := 0
	for _, set := range []bool{r.Notify, r.FD != 0, r.HTTP != "", r.TCP != "", r.Exec != "", r.Log != "", r.Check != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return fmt.Errorf("ready needs exactly one of notify, fd, http, tcp, exec, log, check (got %d)", n)
	case r.FD != 0 && r.FD < 3:
		return fmt.Errorf("ready.fd must be 3 or more, not %d", r.FD)
	}
	switch r.NotifyAccess {
	case "", "main", "group", "all":
	default:
		return fmt.Errorf(`ready.notify_access must be "main", "group" or "all", not %q`, r.NotifyAccess)
	}
	return nil
}

// readyRun is the readiness of one run of a process; guarded by Engine.mu
// except where noted.
type readyRun struct {
	ready         bool
	startsecsDone bool
	timedOut      bool
	stopTimeout   func() bool
	cancel        context.CancelFunc
	closers       []func()
	// childFile is the descriptor passed to the child (fd protocol);
	// closed in the parent once the child is spawned.
	childFile *os.File
	fd        int
	env       string // NOTIFY_SOCKET=… for this run
	// watchdogUsec is the watchdog interval the program last asked for
	// with WATCHDOG_USEC=; nil when it did not.
	watchdogUsec *time.Duration
	watchdogEnv  []string // WATCHDOG_USEC=… (and WATCHDOG_PID=…) for the child
	// notify is the run's sd_notify socket (nil unless ready.notify), kept
	// for a re-exec to carry.
	notify *net.UnixConn
	// logHit is signalled (never blocking) by the output path.
	logHit chan struct{}
	once   sync.Once
}

// prepareReadyLocked makes what the child needs before it is spawned: the
// notify socket or the notification pipe.
func (p *process) prepareReadyLocked() (*readyRun, error) {
	r := p.spec.Ready
	if r == nil {
		return nil, nil
	}
	rr := &readyRun{}
	ctx, cancel := context.WithCancel(context.Background())
	rr.cancel = cancel
	switch {
	case r.Notify:
		conn, name, err := listenNotify()
		if err != nil {
			rr.end()
			return nil, fmt.Errorf("notify socket for %s: %w", p.spec.Name, err)
		}
		rr.env, rr.notify = "NOTIFY_SOCKET="+name, conn
		if w := p.spec.Watchdog; w > 0 {
			rr.watchdogEnv = []string{"WATCHDOG_USEC=" + strconv.FormatInt(w.Microseconds(), 10)}
		}
		rr.closers = append(rr.closers, func() { conn.Close() })
		go p.readNotify(ctx, conn, rr)
	case r.FD != 0:
		rd, wr, err := os.Pipe()
		if err != nil {
			rr.end()
			return nil, fmt.Errorf("notification pipe for %s: %w", p.spec.Name, err)
		}
		rr.childFile, rr.fd = wr, r.FD
		rr.closers = append(rr.closers, func() { rd.Close() })
		go p.readNotifyFD(rd, rr)
	case r.Log != "":
		rr.logHit = make(chan struct{}, 1)
		go func() {
			select {
			case <-rr.logHit:
				p.markReady(rr, "log line matched")
			case <-ctx.Done():
			}
		}()
	}
	return rr, nil
}

// startReadyLocked arms the ready timeout and starts the polled checks once
// the child runs.
func (p *process) startReadyLocked(rr *readyRun) {
	if rr.childFile != nil {
		rr.childFile.Close()
		rr.childFile = nil
	}
	r := p.spec.Ready
	p.rd = rr
	p.statusText = ""
	rr.stopTimeout = p.e.clock.AfterFunc(r.timeout(), func() { p.readyTimeout(rr) })
	if r.HTTP != "" || r.TCP != "" || r.Exec != "" || r.Check != nil {
		ctx, cancel := context.WithCancel(context.Background())
		prev := rr.cancel
		rr.cancel = func() { cancel(); prev() }
		go p.pollReady(ctx, rr, *r, p.childEnv())
	}
}

// end releases everything the run's readiness holds. Safe to call twice.
func (rr *readyRun) end() {
	rr.once.Do(func() {
		if rr.stopTimeout != nil {
			rr.stopTimeout()
		}
		if rr.cancel != nil {
			rr.cancel()
		}
		if rr.childFile != nil {
			rr.childFile.Close()
		}
		for _, c := range rr.closers {
			c()
		}
	})
}

// endReadyLocked ends the current run's readiness (the process exited).
func (p *process) endReadyLocked() {
	if p.rd != nil {
		p.rd.end()
		p.rd = nil
	}
}

// readyStartsecsLocked is called when startsecs have passed; it reports
// whether the process may enter RUNNING now.
func (p *process) readyStartsecsLocked() bool {
	if p.rd == nil || p.rd.ready {
		return true
	}
	p.rd.startsecsDone = true
	p.e.depsChangedLocked() // the running condition now holds
	return false
}

// markReady records that rr's run is ready, and enters RUNNING if
// startsecs have passed too.
func (p *process) markReady(rr *readyRun, why string) {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if p.rd != rr || rr.ready || rr.timedOut || p.state != Starting {
		return
	}
	rr.ready = true
	rr.stopTimeout()
	p.logf(slog.LevelInfo, "ready: %s (%s)", p.spec.Name, why)
	p.e.bus.Publish(Event{Type: EventProcessReady, Time: p.e.clock.Now(), Process: p.spec.Name, Group: p.spec.Group, Pid: p.pid})
	if rr.startsecsDone {
		p.enterRunningLocked()
	}
}

// readyTimeout fails a start that did not become ready in time: the child
// gets its stopsignal, then SIGKILL after stopwaitsecs, as a failing probe
// does, and its exit is a failed start with "not ready after …". A READY=1
// arriving meanwhile is too late.
func (p *process) readyTimeout(rr *readyRun) {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if p.rd != rr || rr.ready || p.state != Starting || p.pid == 0 {
		return
	}
	rr.timedOut = true
	p.killUnhealthyLocked(causeReady, "not ready after "+FormatReadyTimeout(p.spec.Ready.timeout()))
}

// extendReadyLocked moves the ready deadline to at least d from now
// (EXTEND_TIMEOUT_USEC).
func (p *process) extendReadyLocked(rr *readyRun, d time.Duration) {
	if p.rd != rr || rr.ready {
		return
	}
	rr.stopTimeout()
	rr.stopTimeout = p.e.clock.AfterFunc(d, func() { p.readyTimeout(rr) })
}

// FormatReadyTimeout formats a ready timeout as spawnerr shows it ("60s").
func FormatReadyTimeout(d time.Duration) string { return FormatSeconds(d) }

// pollReady runs a polled check every period until it succeeds or ctx ends.
func (p *process) pollReady(ctx context.Context, rr *readyRun, r ReadySpec, env []string) {
	clock := p.e.clock
	wait := r.InitialDelay
	for {
		if !sleepClock(ctx, clock, wait) {
			return
		}
		wait = r.period()
		timeout := p.tryTimeout(r)
		tryCtx, cancel := context.WithTimeout(ctx, timeout)
		res := p.runCheck(tryCtx, r.check(), env, timeout)
		cancel()
		if res.ok {
			p.markReady(rr, res.detail)
			return
		}
	}
}

func (p *process) tryTimeout(r ReadySpec) time.Duration {
	if r.Check != nil {
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if p.spec.HookTimeout > 0 {
			return p.spec.HookTimeout
		}
		return DefaultHookTimeout
	}
	return r.period()
}

// check returns the polled check of r (none for notify, fd and log).
func (r *ReadySpec) check() check {
	return check{HTTP: r.HTTP, TCP: r.TCP, Exec: r.Exec, Script: r.Check}
}

// matchLog is called by the output path with each chunk of output; it
// never blocks. tail carries the end of the previous chunk so a pattern
// split across two reads still matches.
func (rr *readyRun) logMatcher(pattern string) func([]byte) {
	var tail []byte
	return func(chunk []byte) {
		buf := append(tail, chunk...)
		if strings.Contains(string(buf), pattern) {
			select {
			case rr.logHit <- struct{}{}:
			default:
			}
		}
		if keep := len(pattern) - 1; len(buf) > keep {
			buf = buf[len(buf)-keep:]
		}
		tail = append([]byte(nil), buf...)
	}
}

// readNotifyFD waits for the first newline on the notification pipe.
func (p *process) readNotifyFD(rd *os.File, rr *readyRun) {
	buf := make([]byte, 512)
	for {
		n, err := rd.Read(buf)
		if n > 0 && strings.ContainsRune(string(buf[:n]), '\n') {
			p.markReady(rr, fmt.Sprintf("newline on fd %d", rr.fd))
			return
		}
		if err != nil {
			return
		}
	}
}

// listenNotify makes a unix datagram socket in the abstract namespace
// (nothing to clean up on disk) with SO_PASSCRED, so every datagram
// carries the sender's pid.
func listenNotify() (*net.UnixConn, string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", err
	}
	name := fmt.Sprintf("@tend/notify/%d/%s", os.Getpid(), hex.EncodeToString(b[:]))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return nil, "", err
	}
	rc, err := conn.SyscallConn()
	if err == nil {
		var serr error
		err = rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
		})
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("SO_PASSCRED: %w", err)
	}
	return conn, name, nil
}

// readNotify reads sd_notify datagrams until the socket is closed.
func (p *process) readNotify(ctx context.Context, conn *net.UnixConn, rr *readyRun) {
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred)+syscall.CmsgSpace(4*253))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		pid := notifySender(oob[:oobn])
		p.notifyLocked(rr, pid, string(buf[:n]))
	}
}

// notifySender returns the sender's pid from the control messages (0 when
// missing) and closes any descriptors passed along (BARRIER=1 sends one).
func notifySender(oob []byte) int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	pid := 0
	for i := range msgs {
		if cred, err := syscall.ParseUnixCredentials(&msgs[i]); err == nil {
			pid = int(cred.Pid)
		}
		if fds, err := syscall.ParseUnixRights(&msgs[i]); err == nil {
			for _, fd := range fds {
				syscall.Close(fd)
			}
		}
	}
	return pid
}

// notifyAllowedLocked applies notify_access to a sender.
func (p *process) notifyAllowedLocked(pid int) bool {
	if pid <= 0 || p.pid == 0 {
		return false
	}
	switch p.spec.Ready.NotifyAccess {
	case "all":
		return true
	case "group":
		pg, err := syscall.Getpgid(pid)
		return pid == p.pid || err == nil && pg == p.pid
	}
	return pid == p.pid
}

// notifyLocked applies one sd_notify datagram.
func (p *process) notifyLocked(rr *readyRun, pid int, msg string) {
	p.e.mu.Lock()
	if p.rd != rr && p.shadowOf != nil && p.shadowOf.rd == rr {
		p = p.shadowOf // a roll's replacement took over its name (roll.go)
	}
	if p.rd != rr {
		p.e.mu.Unlock()
		return
	}
	if !p.notifyAllowedLocked(pid) {
		p.notifyRejected++
		p.logf(slog.LevelWarn, "notify: %s: rejected a message from pid %d (main pid %d, notify_access %q)",
			p.spec.Name, pid, p.pid, p.spec.Ready.NotifyAccess)
		p.e.mu.Unlock()
		return
	}
	ready := false
	for _, line := range strings.Split(msg, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch k {
		case "READY":
			ready = ready || v == "1"
		case "STATUS":
			p.statusText = v
		case "STOPPING":
			p.logf(slog.LevelInfo, "notify: %s is stopping", p.spec.Name)
		case "RELOADING":
			p.logf(slog.LevelInfo, "notify: %s is reloading", p.spec.Name)
		case "ERRNO":
			p.logf(slog.LevelWarn, "notify: %s reports errno %s", p.spec.Name, v)
		case "WATCHDOG", "WATCHDOG_USEC":
			p.watchdogNotifyLocked(rr, k, v)
		case "EXTEND_TIMEOUT_USEC":
			if us, err := strconv.ParseUint(v, 10, 63); err == nil {
				p.extendReadyLocked(rr, time.Duration(us)*time.Microsecond)
			}
		}
	}
	p.e.mu.Unlock()
	if ready {
		p.markReady(rr, "READY=1")
	}
}

// childEnv returns env with this run's NOTIFY_SOCKET and, with the
// watchdog option, WATCHDOG_USEC, if any.
func (rr *readyRun) childEnv(env []string) []string {
	if rr.env == "" {
		return env
	}
	// Any NOTIFY_SOCKET or WATCHDOG_* tend itself inherited (from systemd)
	// goes: they are tend's, and C's getenv returns the first match.
	out := make([]string, 0, len(env)+3)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") && !strings.HasPrefix(kv, "WATCHDOG_USEC=") && !strings.HasPrefix(kv, "WATCHDOG_PID=") {
			out = append(out, kv)
		}
	}
	return append(append(out, rr.env), rr.watchdogEnv...)
}

// childFiles returns files with the notification pipe as descriptor fd;
// the slots between are closed in the child.
func (rr *readyRun) childFiles(files []uintptr) []uintptr {
	if rr.childFile == nil {
		return files
	}
	out := append([]uintptr(nil), files...)
	for len(out) <= rr.fd {
		out = append(out, ^uintptr(0))
	}
	out[rr.fd] = rr.childFile.Fd()
	return out
}

// readyLogSink wraps an output sink with the log check of the current run.
func (p *process) readyLogSink(sink func([]byte)) func([]byte) {
	if p.rd == nil || p.rd.logHit == nil {
		return sink
	}
	match := p.rd.logMatcher(p.spec.Ready.Log)
	return func(chunk []byte) {
		sink(chunk)
		match(chunk)
	}
}

// sameAs compares two ready specs as reread does: a scripted check is code,
// replaced on reload like the hooks, so only its presence counts.
func (r *ReadySpec) sameAs(o *ReadySpec) bool {
	a, b := *r, *o
	if (a.Check == nil) != (b.Check == nil) {
		return false
	}
	a.Check, b.Check = nil, nil
	return a == b
}
