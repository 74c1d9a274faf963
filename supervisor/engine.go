package supervisor

import (
	"cmp"
	"context"
	"fmt"
	"github.com/tend-sh/tend/supervisor/logfile"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures an Engine.
type Config struct {
	// Logger receives the daemon log lines in supervisord's wording
	// ("spawned: 'web' with pid 42"). nil discards them.
	Logger *slog.Logger
	// ChildLogDir is where AUTO log files go; "" means os.TempDir().
	ChildLogDir string
	// ServerURL is the default SUPERVISOR_SERVER_URL given to children.
	ServerURL string
	// Environ is the base environment of every child; nil means os.Environ().
	Environ []string
	// Subreaper makes the engine reap every child of this process, orphaned
	// grandchildren included (set it when running as PID 1 or with
	// PR_SET_CHILD_SUBREAPER). Nothing else in the process may then wait for
	// its own children (os/exec), since the engine reaps them first.
	Subreaper bool
	// Trampoline is the argv prefix that runs a child with a umask: the
	// engine runs Trampoline + [umask, path, argv...]. The binary must call
	// RunTrampoline first thing in main. nil makes umask specs fail to spawn.
	Trampoline []string
	// SyslogAddr is the syslog daemon's unix datagram socket for
	// stdout_syslog/stderr_syslog; "" means the local one (/dev/log).
	SyslogAddr string
	// StateFile is where the engine records the processes it runs (pid,
	// start time, how to stop them), rewritten atomically shortly after
	// each change and removed by Shutdown, so that Recover in a later
	// engine finds what this one left running if it is killed. "" = off.
	StateFile string
	// Orphans says what Recover does with those: OrphansStop ("" too) or
	// OrphansAdopt.
	Orphans OrphanMode
	// Clock is the engine's time source for every timer and timestamp;
	// nil means the real clock.
	Clock Clock
	// Sockets are listening sockets a previous tend held and passed across
	// execve (see HeldSockets): a spec naming one of these URLs gets that
	// socket instead of a new bind. The engine owns the files from New
	// on; those no spec names are closed after the first Update.
	Sockets []HeldSocket
	// Resuming says the engine is made to Resume a re-exec's handoff: its
	// reaper starts only once Resume has registered the children handed
	// over, so that a subreaper cannot collect an exit before it knows
	// whose it is.
	Resuming bool
}

// Result is the outcome of an operation on one process, as supervisord's
// startProcessGroup returns it for each process of a group.
type Result struct {
	Name        string
	Group       string
	Fault       Fault // FaultSuccess on success
	Description string
	Err         error // nil on success; else the *Error behind Fault
}

// Engine runs and supervises processes. Create it with New, feed it specs
// with Update, and stop it with Shutdown. All methods are safe for
// concurrent use.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	clock   Clock
	bus     Bus
	environ []string

	updateMu sync.Mutex // serializes Update and friends

	mu           genMutex
	procs        map[string]*process // by namespec
	groups       map[string]*group
	pools        map[string]*pool // eventlistener pools by program name
	ticks        map[EventType]*tick
	byPid        map[int]*process
	reaped       chan struct{} // closed when byPid empties, for drain
	shuttingDown bool
	// shutdownSignal replaces every stopsignal during a shutdown (0: none);
	// killedInShutdown names the processes SIGKILLed at their stopwaitsecs.
	shutdownSignal   syscall.Signal
	killedInShutdown []string
	// framed counts the goroutines copying framed (line-prefixed) output,
	// which a shutdown lets drain to EOF so that no line is lost.
	framed     sync.WaitGroup
	framedCaps framedCaps // the framed readers, for a re-exec to park (framed_linux.go)
	closed     chan struct{}
	pump       *pump           // nil if epoll was unavailable: one goroutine per pipe then
	syslog     *logfile.Syslog // for *_syslog output; connects on first use
	reaperDone chan struct{}
	stopReaper func()
	cloexec    closeOnExec // keeps stray descriptors out of children
	sigmask    uint64      // blocked signals children would inherit (sigreset_linux.go)
	usage      usageCache  // the last resource sample, for CPU % (usage_linux.go)
	history    history     // the last state changes (history.go), under mu
	state      *stateWriter
	adoptable  map[string]*orphan // by namespec: kept by Recover for the next Update
	// deps indexes the requires options (nil: none), and depsQueued is
	// set while a settleDepsLocked is scheduled (deps.go).
	deps       *depIndex
	depsQueued bool
	sockets    socketTable // the listening sockets held for programs (sockets_linux.go)
	// logUsers counts the open logs of each path, under mu (logs.go): the
	// pump splices into a log only while it is the file's one writer.
	logUsers map[string]*atomic.Int32
	// noPidfd says children get no pidfd (exits are reaped through
	// SIGCHLD alone): the config needs more descriptors than the limit
	// allows with them (fdbudget_linux.go).
	noPidfd, fdsLogged bool
	// lookups keeps recent PATH searches (findCommandLocked), under mu.
	lookups map[lookupKey]lookup
}

type group struct {
	name     string
	priority int
	procs    []*process // sorted by (priority, name)
}

// New returns an engine with no processes and starts its reaper.
func New(cfg Config) *Engine {
	e := &Engine{
		cfg:    cfg,
		log:    cfg.Logger,
		clock:  cfg.Clock,
		procs:  make(map[string]*process),
		groups: make(map[string]*group),
		byPid:  make(map[int]*process),
		closed: make(chan struct{}),
		syslog: logfile.NewSyslog(cfg.SyslogAddr, "tend"),
		state:  newStateWriter(cfg.StateFile),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.clock == nil {
		e.clock = realClock{}
	}
	for _, hs := range cfg.Sockets {
		if e.sockets.inherited == nil {
			e.sockets.inherited = map[string]*os.File{}
		}
		e.sockets.inherited[hs.URL] = hs.File
	}
	e.environ = cfg.Environ
	if e.environ == nil {
		e.environ = os.Environ()
	}
	if err := e.cloexec.apply(); err != nil {
		e.log.Warn("children may inherit stray descriptors: " + err.Error())
	}
	e.sigmask = inheritedSigmask()
	if e.sigmask != 0 && len(cfg.Trampoline) == 0 {
		e.log.Warn(fmt.Sprintf("children will inherit blocked signals (mask %#x): this engine has no trampoline to clear them", e.sigmask))
	}
	if p, err := newPump(); err == nil {
		e.pump = p
	} else {
		e.log.Warn("output pump unavailable, using a goroutine per pipe: " + err.Error())
	}
	if !cfg.Resuming {
		e.startReaper()
	}
	return e
}

// Subscribe returns a subscription to the engine's events buffering up to n.
func (e *Engine) Subscribe(n int) *Subscription { return e.bus.Subscribe(n) }

// Publish sends an event to the engine's subscribers (for events that other
// parts of the daemon originate, such as SUPERVISOR_STATE_CHANGE_RUNNING).
func (e *Engine) Publish(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = e.clock.Now()
	}
	e.bus.Publish(ev)
}

// ShuttingDown reports whether Shutdown has begun.
func (e *Engine) ShuttingDown() bool {
	e.mu.Lock()
	defer e.mu.unlockUnchanged()
	return e.shuttingDown
}

// processLocked returns the one process name designates ("name" or
// "group:name"); anything else gives BAD_NAME.
func (e *Engine) processLocked(name string) (*process, error) {
	t := ParseTarget(name)
	if !t.IsProcess() {
		return nil, fault(FaultBadName, name)
	}
	procs, err := e.targetLocked(t)
	if err != nil {
		return nil, err
	}
	return procs[0], nil
}

// orderedLocked returns every process in start order: ascending group
// priority, group name, process priority, process name.
func (e *Engine) orderedLocked() []*process {
	gs := make([]*group, 0, len(e.groups))
	for _, g := range e.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.name, b.name))
	})
	var out []*process
	for _, g := range gs {
		out = append(out, g.procs...)
	}
	return out
}

// Groups returns the names of the groups in use, in start order.
func (e *Engine) Groups() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, p := range e.orderedLocked() {
		if len(out) == 0 || out[len(out)-1] != p.spec.Group {
			out = append(out, p.spec.Group)
		}
	}
	return out
}

// Status returns a snapshot of every process, sorted by group then name as
// supervisorctl lists them.
func (e *Engine) Status() []Info {
	out, _ := e.StatusAt()
	return out
}

// StatusGen returns the engine's generation and the time now. The
// generation changes whenever something under the engine's lock may have
// changed, so a reply built from Status at one generation (see
// StatusAt) still holds while it and the second of the clock are the
// same.
func (e *Engine) StatusGen() (uint64, time.Time) {
	return e.mu.gen.Load(), e.clock.Now()
}

// StatusAt is Status with the generation it reflects: any change made
// since gives a different StatusGen.
func (e *Engine) StatusAt() ([]Info, uint64) {
	e.mu.Lock()
	now := e.clock.Now()
	out := make([]Info, 0, len(e.procs))
	for _, p := range e.procs {
		out = append(out, p.infoLocked(now))
	}
	gen := e.mu.gen.Load()
	e.mu.unlockUnchanged()
	slices.SortFunc(out, func(a, b Info) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Name, b.Name))
	})
	return out, gen
}

// genMutex is Engine.mu: a mutex that counts the critical sections that
// ended, so a reader can tell, with one atomic load, that nothing guarded
// by it changed since it last looked (StatusGen). Counting every section,
// rather than marking each change, cannot miss one.
type genMutex struct {
	sync.Mutex
	gen atomic.Uint64
}

// Unlock ends a critical section.
func (m *genMutex) Unlock() {
	m.gen.Add(1)
	m.Mutex.Unlock()
}

// unlockUnchanged ends a critical section that only read: the generation
// stays, so polling (status, the XML-RPC shutdown check) does not make
// the status replies it polls look stale. Never after a change.
func (m *genMutex) unlockUnchanged() {
	m.Mutex.Unlock()
}

// Info returns a snapshot of one process.
func (e *Engine) Info(name string) (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.processLocked(name)
	if err != nil {
		return Info{}, err
	}
	return p.infoLocked(e.clock.Now()), nil
}

// Specs returns the spec of every process in start order.
func (e *Engine) Specs() []Spec {
	e.mu.Lock()
	defer e.mu.unlockUnchanged()
	var out []Spec
	for _, p := range e.orderedLocked() {
		out = append(out, p.spec)
	}
	return out
}

// forgetPidLocked drops a reaped pid and wakes a drain once none is left.
func (e *Engine) forgetPidLocked(pid int) {
	delete(e.byPid, pid)
	if len(e.byPid) == 0 && e.reaped != nil {
		close(e.reaped)
		e.reaped = nil
	}
}

// waitFor blocks until done(state) holds for p, or ctx ends.
func (e *Engine) waitFor(ctx context.Context, p *process, done func(State) bool) State {
	for {
		e.mu.Lock()
		st := p.state
		if done(st) || p.removed {
			e.mu.Unlock()
			return st
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return st
		}
	}
}
