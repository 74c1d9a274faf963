package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/logfile"
	"github.com/tend-sh/tend/vm"
)

// runDaemon runs `tend daemon [--detach]` and returns the exit code.
func runDaemon(ctx context.Context, g globals, args []string, stderr io.Writer) int {
	detached := false
	for _, a := range args {
		switch a {
		case "--detach", "-d":
			detached = true
		case "-n", "--nodaemon":
		default:
			fmt.Fprintf(stderr, "Error: daemon: unknown argument %q\n", a)
			return 2
		}
	}
	ready := readyPipe()
	if detached && ready == nil {
		return detach(os.Args[1:], stderr)
	}
	path, err := findConfig(g)
	if err != nil {
		report(ready, err)
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 2
	}
	var echo io.Writer = stderr
	if ready != nil {
		echo = nil
	}
	code, err := serve(ctx, path, echo, ready)
	if err != nil {
		report(ready, err)
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return code
}

// serve runs the daemon until it is shut down. echo (nil when detached)
// also receives the log. ready, if not nil, is told once the daemon serves.
func serve(ctx context.Context, path string, echo io.Writer, ready *os.File) (int, error) {
	var boot slog.Handler = slog.DiscardHandler
	if echo != nil {
		boot = logfile.NewHandler(echo, slog.LevelInfo)
	}
	sw := newSwitchHandler(boot)
	log := slog.New(sw)

	// The daemon exists before its engine so the VM can be loaded once with
	// sv attached; sv calls made while the config loads find no engine yet.
	d := newTendDaemon(path, log)
	v, cfg, err := d.load(ctx, true)
	if err != nil {
		return 2, err
	}
	dc := cfg.Daemon
	if err := applySettings(dc); err != nil {
		v.Close()
		return 2, err
	}
	ml, h, err := openMainLog(dc.Logfile, dc.LogfileMaxBytes, dc.LogfileBackups, dc.LogLevel, echo)
	if err != nil {
		v.Close()
		return 2, err
	}
	defer ml.file.Close()
	sw.set(h)

	ln, err := listenUnix(dc.Socket)
	if err != nil {
		v.Close()
		return 1, err
	}
	var tcp net.Listener
	if dc.HTTP != nil {
		if tcp, err = net.Listen("tcp", dc.HTTP.Listen); err != nil {
			ln.Close()
			v.Close()
			return 1, fmt.Errorf("listen on %s: %w", dc.HTTP.Listen, err)
		}
	}

	childLogDir := dc.ChildLogDir
	if childLogDir == "" {
		childLogDir = os.TempDir()
	}
	if !dc.Nocleanup {
		if err := logfile.CleanAutoIdent(childLogDir, dc.Identifier); err != nil {
			log.Warn("cleaning up AUTO child logs: " + err.Error())
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return 1, fmt.Errorf("find own executable: %w", err)
	}
	if dc.Subreaper {
		if err := supervisor.BecomeSubreaper(); err != nil {
			log.Warn("could not become a subreaper: " + err.Error())
			dc.Subreaper = false
		}
	}
	eng := supervisor.New(supervisor.Config{
		Logger: log, ChildLogDir: childLogDir, ServerURL: "unix://" + dc.Socket.Path,
		Environ: environ(dc.Environment), Subreaper: dc.Subreaper,
		Trampoline: []string{exe, supervisor.TrampolineArg},
	})
	d.setEngine(eng)
	d.swap(v, cfg, false)
	go observe(eng, d)

	servers := []*http.Server{serveOn(ln, control.New(control.Options{Engine: eng, Daemon: d, MainLog: ml.file,
		Identification: dc.Identifier}), log)}
	if tcp != nil {
		servers = append(servers, serveOn(tcp, control.New(control.Options{Engine: eng, Daemon: d, MainLog: ml.file,
			Username: dc.HTTP.Username, Password: dc.HTTP.Password, Identification: dc.Identifier,
			NoEval: dc.HTTP.Username == ""}), log))
	}
	startupLog(log, dc, ready != nil)
	if dc.Pidfile != "" {
		if err := writePidfile(dc.Pidfile); err != nil {
			log.Error(err.Error())
		} else {
			defer os.Remove(dc.Pidfile)
		}
	}
	if _, err := eng.Update(ctx, cfg.Specs); err != nil {
		log.Error("start processes: " + err.Error())
	}
	eng.Publish(supervisor.Event{Type: supervisor.EventSupervisorRunning})
	report(ready, nil)
	// Loading the config (parse trees, the first Lua state) is the daemon's
	// biggest allocation burst; hand that memory back now rather than
	// whenever the background scavenger gets to it.
	debug.FreeOSMemory()

	mainLoop(ctx, d, ml, log, dc)
	d.Shutdown() // ends observe, and makes later shutdown requests no-ops

	eng.Shutdown(context.Background())
	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if s.Shutdown(sctx) != nil {
			s.Close()
		}
		cancel()
	}
	d.swap(nil, nil, false)
	return 0, nil
}

// mainLoop waits for signals and control requests until shutdown.
func mainLoop(ctx context.Context, d *tendDaemon, ml *mainLog, log *slog.Logger, running vm.Daemon) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	doReload := func() {
		err := d.reload(ctx, func(dc vm.Daemon) {
			if lv, err := logfile.ParseLevel(dc.LogLevel); err == nil {
				ml.level.Set(lv)
			}
			if changed := needRestart(running, dc); len(changed) > 0 {
				log.Warn("reload: daemon settings " + strings.Join(changed, ", ") +
					" changed; they take effect when the daemon is restarted")
			}
		})
		if err != nil {
			log.Error("reload failed, keeping the running configuration: " + err.Error())
			return
		}
		log.Info("supervisord started with pid " + strconv.Itoa(os.Getpid()))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.shutdownCh:
			return
		case <-d.reloadCh:
			doReload()
		case sig := <-sigs:
			name := "SIG" + supervisor.SignalName(sig.(syscall.Signal))
			switch sig {
			case syscall.SIGHUP:
				log.Warn("received " + name + " indicating restart request")
				doReload()
			case syscall.SIGUSR2:
				log.Info("received " + name + " indicating log reopen request")
				if err := errors.Join(ml.file.Reopen(), d.eng.ReopenLogs()); err != nil {
					log.Error("reopen logs: " + err.Error())
				}
			default:
				log.Warn("received " + name + " indicating exit request")
				return
			}
		}
	}
}

// observe hands every engine event to the current VM's hooks.
func observe(eng *supervisor.Engine, d *tendDaemon) {
	sub := eng.Subscribe(1024)
	defer sub.Close()
	for {
		select {
		case ev := <-sub.C:
			if v := d.current(); v != nil {
				v.Observe(ev)
			}
		case <-d.shutdownCh:
			return
		}
	}
}

// serveOn serves h on ln in the background, with the door's connection
// cap and idle timeout (control.LimitListener, control.NewHTTPServer).
func serveOn(ln net.Listener, h http.Handler, log *slog.Logger) *http.Server {
	lim := control.LimitListener(ln, control.DefaultMaxConns)
	s := control.NewHTTPServer(h, lim)
	s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	go func() {
		if err := s.Serve(lim); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control server: " + err.Error())
		}
	}()
	return s
}

// startupLog writes supervisord's start-up lines.
func startupLog(log *slog.Logger, dc vm.Daemon, detached bool) {
	if os.Getuid() == 0 {
		log.Log(context.Background(), logfile.LevelCrit, "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message.")
	}
	log.Info("RPC interface 'supervisor' initialized")
	log.Log(context.Background(), logfile.LevelCrit, "Server 'unix_http_server' running without any HTTP authentication checking")
	if dc.HTTP != nil && dc.HTTP.Username == "" {
		log.Log(context.Background(), logfile.LevelCrit, "Server 'inet_http_server' running without any HTTP authentication checking")
	}
	if detached {
		log.Info("daemonizing the supervisord process")
	}
	log.Info("supervisord started with pid " + strconv.Itoa(os.Getpid()))
}

// applySettings applies the daemon{} settings that act on the process
// itself: working directory, umask, file limit, and the directories the
// daemon writes to.
func applySettings(dc vm.Daemon) error {
	if dc.Directory != "" {
		if err := os.Chdir(dc.Directory); err != nil {
			return fmt.Errorf("daemon directory: %w", err)
		}
	}
	if dc.Umask >= 0 {
		syscall.Umask(dc.Umask)
	}
	if dc.Minfds > 0 {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(dc.Minfds) {
			rl.Cur = min(uint64(dc.Minfds), rl.Max)
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
	}
	if dc.ChildLogDir != "" {
		if err := os.MkdirAll(dc.ChildLogDir, 0o755); err != nil {
			return fmt.Errorf("create childlogdir: %w", err)
		}
	}
	return nil
}

// environ is the daemon's environment plus daemon{ environment }.
func environ(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := extra[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// writePidfile writes the daemon's pid, creating the directory.
func writePidfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create pidfile directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	return nil
}

// needRestart names the daemon{} settings that differ between the running
// daemon and a reloaded config but only apply at start-up (sockets, the
// main log, the process environment), so a reload can say so instead of
// silently ignoring them.
func needRestart(old, cur vm.Daemon) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("socket", old.Socket != cur.Socket)
	add("http", (old.HTTP == nil) != (cur.HTTP == nil) || old.HTTP != nil && *old.HTTP != *cur.HTTP)
	add("logfile", old.Logfile != cur.Logfile || old.LogfileMaxBytes != cur.LogfileMaxBytes || old.LogfileBackups != cur.LogfileBackups)
	add("pidfile", old.Pidfile != cur.Pidfile)
	add("childlogdir", old.ChildLogDir != cur.ChildLogDir)
	add("directory", old.Directory != cur.Directory)
	add("umask", old.Umask != cur.Umask)
	add("environment", !maps.Equal(old.Environment, cur.Environment))
	add("identifier", old.Identifier != cur.Identifier)
	add("subreaper", old.Subreaper != cur.Subreaper)
	return out
}
