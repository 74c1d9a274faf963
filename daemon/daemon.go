package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/logfile"
	"github.com/tend-sh/tend/version"
	"github.com/tend-sh/tend/vm"
)

// Options configure Open.
type Options struct {
	// Path is the config file.
	Path string
	// Echo, if not nil, also receives the daemon log (the foreground
	// daemon's stderr). Before the config names the log file, Echo is the
	// only place the log goes.
	Echo io.Writer
	// Detached says the daemon was daemonized, for the start-up log.
	Detached bool
	// Trampoline is the argv prefix that runs a child with a umask (see
	// supervisor.Config); nil means this executable with
	// supervisor.TrampolineArg.
	Trampoline []string
	// Supervisord are [supervisord] options from supervisord's command
	// line (tend run as supervisord); they override an INI config's at
	// every load (vm.Options.Supervisord).
	Supervisord map[string]string
	// Main is the main command of `tend daemon -- CMD ARGS...`: an
	// essential program named "main" whose end ends the daemon.
	Main []string
	// Container asks for PID 1 duties (reaping every orphan) when tend is
	// not PID 1 (`tend daemon --container`); PID 1 has them anyway.
	Container bool
	// Resume, if not nil, is the handoff of a re-exec (ReadResume): the
	// daemon takes over the processes, listeners and descriptors of the
	// binary that exec'd it instead of starting afresh.
	Resume *Resume
}

// Daemon is the running daemon. Open loads the config; Start creates the
// engine; Run starts the processes and serves signals and requests until
// shutdown; Close releases what is left. Its methods are safe for
// concurrent use.
type Daemon struct {
	path string
	opts Options
	log  *slog.Logger
	sw   switchHandler
	ml   *mainLog

	pidfile string // written by Start, removed when Run ends
	setUID  string // what dropping to daemon{ user } did, for the start-up log

	// txMu serialises config transactions (update, reload, scale).
	txMu sync.Mutex

	mu        sync.Mutex
	eng       *supervisor.Engine
	vm        *vm.VM     // the state of the config loaded last
	cfg       *vm.Config // the config loaded last
	running   vm.Daemon  // the daemon{} settings the daemon started with
	available []supervisor.Spec
	owner     map[string]*vm.VM // group -> the state its hooks run in
	closedHS  vm.HookStats      // hook counts of states already closed

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	reloadCh     chan struct{}
	// sd talks to systemd when tend runs as a Type=notify service; nil
	// otherwise.
	sd       *sdNotifier
	observed chan struct{} // closed when the observer goroutine ends

	exitMu sync.Mutex
	exit   *Exit // what the exit policy decided; nil when it did not

	// exitSub feeds the exit policy; subscribed in Start, before any
	// process can end (a resumed daemon reaps there).
	exitSub *supervisor.Subscription

	// Re-exec (reexec.go): the doors to pause, the gate of control
	// requests, this binary (its path and a descriptor of it, for the
	// fallback of the next one), the handoff this daemon resumed from.
	doorsMu  sync.Mutex
	doors    []*pausableListener
	gate     gate
	absPath  string
	exePath  string
	exeFD    int
	resume   *Resume
	rxMu     sync.Mutex
	rxBusy   bool
	rxStatus control.ReexecStatus
}

// Open loads the config at opts.Path, applies the daemon{} settings that
// act on the process itself (working directory, umask, file limit) and
// opens the daemon's log. A config error returns the error and leaves
// nothing behind.
func Open(ctx context.Context, opts Options) (*Daemon, error) {
	var boot slog.Handler = slog.DiscardHandler
	if opts.Echo != nil {
		boot = logfile.NewHandler(opts.Echo, slog.LevelInfo)
	}
	d := &Daemon{path: opts.Path, opts: opts, sw: newSwitchHandler(boot),
		owner: map[string]*vm.VM{}, shutdownCh: make(chan struct{}), reloadCh: make(chan struct{}, 1),
		sd:       newSDNotifier(os.Getenv),
		observed: make(chan struct{}), resume: opts.Resume, exeFD: -1}
	d.log = slog.New(d.sw)
	d.absPath, _ = filepath.Abs(opts.Path)
	d.findSelf()
	// The VM is loaded with sv attached; sv calls made while the config
	// loads find no engine yet and say so.
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return nil, err
	}
	dc := cfg.Daemon
	if err := applySettings(dc); err != nil {
		v.Close()
		return nil, err
	}
	ml, h, err := openMainLog(dc.Logfile, dc.LogfileMaxBytes, dc.LogfileBackups, dc.LogLevel, opts.Echo)
	if err != nil {
		v.Close()
		return nil, err
	}
	d.sw.set(h)
	d.ml = ml
	d.logWarnings(cfg)
	d.vm, d.cfg, d.running = v, cfg, dc
	if r := d.resume; r != nil {
		// The re-exec's status is set once serving (reexecServing): a
		// client polling it must not see this generation done earlier.
		d.pidfile, d.setUID = r.state.Pidfile, r.state.SetUID
	}
	if cfg.INI != nil {
		d.log.Info(fmt.Sprintf("%s is a supervisord config: tend runs it through the conversion of tend import; "+
			"`tend import %s > tend.lua` writes the Lua config to grow from", opts.Path, opts.Path))
		logINIWarnings(d.log, cfg)
	}
	return d, nil
}

// Settings returns the daemon{} settings the daemon started with.
func (d *Daemon) Settings() vm.Daemon { return d.running }

// Logger is the daemon's log.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// MainLog is the daemon's own log file, for maintail.
func (d *Daemon) MainLog() *logfile.File { return d.ml.file }

// Engine returns the engine; nil before Start.
func (d *Daemon) Engine() *supervisor.Engine {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eng
}

// Start writes the pidfile, becomes daemon{ user } when one is set (an
// error if that fails), creates the engine (becoming a child subreaper
// when configured), stops or adopts what a killed previous instance left running (see
// daemon{ orphans }), and begins handing the engine's events to the
// hooks. No process of the config starts before Run. Call it after the
// control socket is listened on: that is where a live previous instance
// is refused.
func (d *Daemon) Start(ctx context.Context) error {
	dc := d.running
	childLogDir := dc.ChildLogDir
	if childLogDir == "" {
		childLogDir = os.TempDir()
	}
	if d.resume != nil {
		return d.startResumed(ctx, childLogDir)
	}
	if !dc.Nocleanup {
		if err := logfile.CleanAutoIdent(childLogDir, dc.Identifier); err != nil {
			d.log.Warn("cleaning up AUTO child logs: " + err.Error())
		}
	}
	if dc.Pidfile != "" {
		if err := writePidfile(dc.Pidfile); err != nil {
			d.log.Error(err.Error())
		} else {
			d.pidfile = dc.Pidfile
		}
	}
	if dc.User != "" {
		// After the socket (cmd listens before Start), the logs and the
		// pidfile are open, before any program starts.
		msg, err := dropPrivileges(dc.User, []string{d.ml.file.Path(), d.pidfile, stateFile(dc)})
		if err != nil {
			if d.pidfile != "" {
				os.Remove(d.pidfile)
			}
			return err
		}
		d.setUID = msg
	}
	eng, err := d.newEngine(childLogDir)
	if err != nil {
		return err
	}
	if _, err := eng.Recover(ctx, d.cfg.Specs); err != nil {
		d.log.Error("recover processes of a previous tend: " + err.Error())
	}
	d.mu.Lock()
	d.eng = eng
	d.mu.Unlock()
	// Subscribed here, not in the goroutine: the first processes' events
	// (their first on_start) must not be published before anyone listens.
	go d.observe(eng.Subscribe(1024))
	d.exitSub = eng.Subscribe(4096)
	return nil
}

// newEngine creates the engine as daemon{} says, becoming a subreaper
// when asked.
func (d *Daemon) newEngine(childLogDir string) (*supervisor.Engine, error) {
	dc := d.running
	tramp := d.opts.Trampoline
	if tramp == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		tramp = []string{exe, supervisor.TrampolineArg}
	}
	subreaper := dc.Subreaper
	if d.ContainerMode() {
		d.log.Info("container mode: tend reaps every orphan (pid " + strconv.Itoa(os.Getpid()) + ")")
		subreaper = true
	}
	if subreaper {
		if err := supervisor.BecomeSubreaper(); err != nil {
			d.log.Warn("could not become a subreaper: " + err.Error())
			subreaper = false
		}
	}
	var sockets []supervisor.HeldSocket
	if d.resume != nil {
		// The held sockets the previous binary carried across the exec.
		for _, s := range d.resume.state.Engine.Sockets {
			sockets = append(sockets, supervisor.HeldSocket{URL: s.URL, File: os.NewFile(uintptr(s.FD), s.URL)})
		}
	}
	return supervisor.New(supervisor.Config{
		Logger: d.log, ChildLogDir: childLogDir, ServerURL: "unix://" + dc.Socket.Path,
		Environ: environ(dc.Environment), Subreaper: subreaper, Trampoline: tramp,
		StateFile: stateFile(dc), Orphans: dc.Orphans, Resuming: d.resume != nil, Sockets: sockets,
	}), nil
}

// startResumed is Start for a daemon resumed by a re-exec: the pidfile,
// the privileges and the AUTO logs are as the previous binary left them
// (its children still write to those logs), and instead of recovering
// orphans the engine resumes the processes handed over. The hooks' owner
// and the event subscriptions come first: exits during the re-exec are
// handled as Resume reaps them.
func (d *Daemon) startResumed(ctx context.Context, childLogDir string) error {
	// Whatever can fail comes before the engine exists: a subreaper's
	// reaper could otherwise collect a child the fallback then misses.
	if err := testResumeFail(); err != nil {
		return err
	}
	eng, err := d.newEngine(childLogDir)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.eng = eng
	v, cfg := d.vm, d.cfg
	d.mu.Unlock()
	d.adopt(v, cfg, nil)
	go d.observe(eng.Subscribe(1024))
	d.exitSub = eng.Subscribe(4096)
	if err := eng.Resume(d.resume.state.Engine, cfg.Specs); err != nil {
		return err
	}
	d.resumed()
	return nil
}

// findSelf records this daemon's executable, the default binary of a
// re-exec, and opens it so that the next binary can fall back to this one
// even if the file on disk is replaced meanwhile.
func (d *Daemon) findSelf() {
	if exe, err := os.Executable(); err == nil {
		d.exePath = exe
	}
	if fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		d.exeFD = fd
	}
}

// ContainerMode reports whether the daemon has PID 1 duties: it is PID 1,
// or daemon{ container = true }, or Options.Container.
func (d *Daemon) ContainerMode() bool {
	return os.Getpid() == 1 || d.running.Container || d.opts.Container
}

// Signals are the signals Run serves: the daemon's own and those
// daemon{ forward } passes on. Notify them on the channel given to Run.
func (d *Daemon) Signals() []os.Signal {
	out := []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR2}
	for sig := range d.running.Forward {
		if !slices.Contains(out, os.Signal(sig)) {
			out = append(out, sig)
		}
	}
	return out
}

// Run starts the processes of the config, calls ready, and then serves
// sigs (SIGHUP reloads, SIGUSR2 reopens the logs, the signals of daemon{
// forward } are passed on, any other signal shuts down) and the reload and
// shutdown requests of the control plane until ctx ends, a shutdown is
// asked for or the exit policy ends the daemon (an essential program
// ended, or exit_when_done). It stops every process within daemon{
// shutdown_timeout } and returns tend's exit status and its cause, which
// it logs.
func (d *Daemon) Run(ctx context.Context, sigs <-chan os.Signal, ready func()) Exit {
	dc := d.running
	if d.pidfile != "" {
		defer os.Remove(d.pidfile)
	}
	if d.resume != nil {
		d.reexecServing()
	} else {
		d.startupLog()
	}
	d.mu.Lock()
	eng, v, cfg := d.eng, d.vm, d.cfg
	d.mu.Unlock()
	d.adopt(v, cfg, nil)
	go d.watchExits(eng, d.exitSub)
	if _, err := eng.Update(ctx, cfg.Specs); err != nil {
		d.log.Error("start processes: " + err.Error())
	}
	eng.Publish(supervisor.Event{Type: supervisor.EventSupervisorRunning})
	if ready != nil {
		ready()
	}
	// Under systemd (Type=notify): ready once the socket is up (cmd
	// listens before Start) and the autostart programs were started.
	status := func() string { return statusSummary(eng.Status()) }
	d.sdNotify("READY=1", "STATUS="+status())
	pulseStop := make(chan struct{})
	defer close(pulseStop)
	go d.sd.pulse(status, pulseStop, d.sdError)
	// Loading the config (parse trees, the first Lua state) is the daemon's
	// biggest allocation burst; hand that memory back now rather than
	// whenever the background scavenger gets to it.
	debug.FreeOSMemory()
	// Likewise the pages of tend's own binary that startup touched (see
	// pageOutImage): at 200 programs they were 9.5 of the daemon's 16 MB.
	if _, err := pageOutImage(); err != nil {
		d.log.Debug("page out the executable's startup pages: " + err.Error())
	}

	sig := d.loop(ctx, sigs)
	d.sdNotify("STOPPING=1", "STATUS=stopping")
	d.Shutdown() // ends observe, and makes later shutdown requests no-ops
	d.mu.Lock()
	dn := d.cfg.Daemon
	d.mu.Unlock()
	var stopSig syscall.Signal
	if s, ok := sig.(syscall.Signal); ok {
		stopSig = dc.Rewrite[s]
	}
	res := eng.ShutdownWith(context.Background(), supervisor.ShutdownOptions{Budget: dn.ShutdownTimeout, Signal: stopSig})
	x := d.finalExit(sig, res, dn)
	d.log.Info("tend exiting with status " + strconv.Itoa(x.Code) + ": " + x.Cause)
	return x
}

// loop waits for signals and control requests until shutdown, and returns
// the signal that asked for it (nil for any other reason). A reload runs
// beside it, so a shutdown asked for while a config loads (or hangs
// loading) is obeyed at once: the reload is cancelled.
func (d *Daemon) loop(ctx context.Context, sigs <-chan os.Signal) os.Signal {
	var r reloader
	defer r.cancel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.shutdownCh:
			return nil
		case <-r.done:
			r.finished(ctx, d)
		case <-d.reloadCh:
			r.start(ctx, d)
		case sig := <-sigs:
			name := "SIG" + supervisor.SignalName(sig.(syscall.Signal))
			switch sig {
			case syscall.SIGHUP:
				d.log.Warn("received " + name + " indicating restart request")
				r.start(ctx, d)
			case syscall.SIGUSR2:
				d.log.Info("received " + name + " indicating log reopen request")
				if err := errors.Join(d.ml.file.Reopen(), d.Engine().ReopenLogs()); err != nil {
					d.log.Error("reopen logs: " + err.Error())
				}
			default:
				if target, ok := d.running.Forward[sig.(syscall.Signal)]; ok {
					d.forward(sig.(syscall.Signal), target)
					continue
				}
				d.log.Warn("received " + name + " indicating exit request")
				return sig
			}
		}
	}
}

// reloader runs one reload at a time beside the main loop; a request made
// while one runs is done once it finishes.
type reloader struct {
	done    chan struct{} // closed when the running reload ends; nil when none runs
	stop    context.CancelFunc
	pending bool
}

func (r *reloader) start(ctx context.Context, d *Daemon) {
	if r.done != nil {
		r.pending = true
		return
	}
	d.sdNotify("RELOADING=1", "MONOTONIC_USEC="+monotonicUsec(), "STATUS=reloading")
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	r.done, r.stop = done, stop
	go func() {
		defer close(done)
		d.reloadLogged(rctx)
	}()
}

func (r *reloader) finished(ctx context.Context, d *Daemon) {
	r.stop()
	r.done, r.stop = nil, nil
	if !r.pending {
		d.sdNotify("READY=1", "STATUS="+statusSummary(d.Engine().Status()))
	}
	if r.pending {
		r.pending = false
		r.start(ctx, d)
	}
}

// reloadGrace is how long a shutdown waits for a cancelled reload to let
// go before stopping the processes anyway.
const reloadGrace = 2 * time.Second

// cancel ends a running reload, waiting a moment for it to return.
func (r *reloader) cancel() {
	if r.done == nil {
		return
	}
	r.stop()
	select {
	case <-r.done:
	case <-time.After(reloadGrace):
	}
}

// reloadLogged reloads and logs the outcome as supervisord does.
func (d *Daemon) reloadLogged(ctx context.Context) {
	if err := d.reload(ctx); err != nil {
		d.log.Error("reload failed, keeping the running configuration: " + err.Error())
		return
	}
	d.log.Info(startedLine())
}

// Close closes every Lua state and the daemon's log. Call it after Run.
func (d *Daemon) Close() {
	d.Shutdown()
	if d.Engine() != nil {
		<-d.observed
	}
	d.mu.Lock()
	states := d.statesLocked()
	d.vm, d.cfg, d.owner = nil, nil, map[string]*vm.VM{}
	d.mu.Unlock()
	for _, v := range states {
		d.closeVM(v)
	}
	d.ml.file.Close()
}

// Shutdown asks the main loop to shut down and returns at once.
func (d *Daemon) Shutdown() { d.shutdownOnce.Do(func() { close(d.shutdownCh) }) }

// Pid is the daemon's pid.
func (d *Daemon) Pid() int { return os.Getpid() }

// observe hands every engine event to the hooks of the state that owns the
// event's group.
func (d *Daemon) observe(sub *supervisor.Subscription) {
	defer close(d.observed)
	defer sub.Close()
	for {
		select {
		case ev := <-sub.C:
			d.mu.Lock()
			v := d.owner[ev.Group]
			d.mu.Unlock()
			if v != nil {
				v.Observe(ev)
			}
		case <-d.shutdownCh:
			return
		}
	}
}

// startupLog writes supervisord's start-up lines.
func (d *Daemon) startupLog() {
	crit := func(msg string) { d.log.Log(context.Background(), logfile.LevelCrit, msg) }
	switch {
	case d.setUID != "":
		d.log.Info(d.setUID)
	case os.Getuid() == 0 && d.running.User == "":
		crit(`tend is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user = "root" in daemon {} to avoid this message.`)
	}
	d.log.Info("RPC interface 'supervisor' initialized")
	crit("Server 'unix_http_server' running without any HTTP authentication checking")
	if h := d.running.HTTP; h != nil && h.Username == "" {
		crit("Server 'inet_http_server' running without any HTTP authentication checking")
	}
	if d.opts.Detached {
		d.log.Info("daemonizing the tend process")
	}
	d.log.Info(startedLine())
}

// startedLine is the log line saying the daemon runs (supervisord's
// "supervisord started with pid N", naming tend and its version), written
// at start-up and after each reload.
func startedLine() string {
	return "tend started with pid " + strconv.Itoa(os.Getpid()) + " (version " + version.String() + ")"
}

// HookStats counts the hook calls of every Lua state the daemon has used.
func (d *Daemon) HookStats() control.HookStats {
	d.mu.Lock()
	hs := d.closedHS
	for _, v := range d.statesLocked() {
		hs = hs.Add(v.HookStats())
	}
	d.mu.Unlock()
	return control.HookStats{Calls: hs.Calls, Errors: hs.Errors, Timeouts: hs.Timeouts, Seconds: hs.Duration.Seconds()}
}

// statesLocked returns every open Lua state: the current one and those
// some group still runs its hooks in.
func (d *Daemon) statesLocked() []*vm.VM {
	var out []*vm.VM
	if d.vm != nil {
		out = append(out, d.vm)
	}
	for _, v := range d.owner {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// closeVM closes a state, keeping its hook counts for HookStats.
func (d *Daemon) closeVM(v *vm.VM) {
	v.Close()
	d.mu.Lock()
	d.closedHS = d.closedHS.Add(v.HookStats())
	d.mu.Unlock()
}

// logINIWarnings logs what the conversion of an INI config could not
// carry over exactly, as tend import would have warned.
func logINIWarnings(log *slog.Logger, cfg *vm.Config) {
	for _, w := range cfg.INI.Warnings {
		log.Warn(w)
	}
}

// forward passes sig (after daemon{ rewrite }) to the processes target
// designates, as daemon{ forward } says.
func (d *Daemon) forward(sig syscall.Signal, target string) {
	send := sig
	if to, ok := d.running.Rewrite[sig]; ok {
		send = to
	}
	d.log.Info("received SIG" + supervisor.SignalName(sig) + ", passing SIG" + supervisor.SignalName(send) + " to " + target)
	if _, err := d.Engine().Signal(supervisor.ParseTarget(target), send); err != nil {
		d.log.Error("forward SIG" + supervisor.SignalName(sig) + " to " + target + ": " + err.Error())
	}
}
