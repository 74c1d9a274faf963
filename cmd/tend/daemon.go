package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/tend-sh/tend/daemon"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/version"
)

// runDaemon runs `tend daemon [--detach] [--container] [-- CMD ARGS...]`
// and returns the exit code.
func runDaemon(ctx context.Context, g globals, args []string, stderr io.Writer) int {
	detached := false
	opts := daemon.Options{}
	if len(args) > 0 && (args[0] == daemon.ResumeFlag || args[0] == daemon.CheckResumeFlag) {
		return runResume(ctx, args, stderr)
	}
	for i, a := range args {
		if a == "--" {
			opts.Main = args[i+1:]
			if len(opts.Main) == 0 {
				fmt.Fprintln(stderr, "Error: daemon: -- must be followed by a command")
				return 2
			}
			break
		}
		switch a {
		case "--detach", "-d":
			detached = true
		case "--container":
			opts.Container = true
		case "-n", "--nodaemon":
		default:
			fmt.Fprintf(stderr, "Error: daemon: unknown argument %q\n", a)
			return 2
		}
	}
	return launchDaemon(ctx, g, daemonRun{detach: detached, opts: opts}, stderr)
}

// runResume runs the daemon side of tend reexec: `daemon --check-resume
// FD` (the check the running daemon makes of this binary) or `daemon
// --resume STATE:EXE [--resume-failed REASON]` (this binary taking over).
// A resume that fails before it changed anything falls back to the
// previous binary (daemon.FallBack).
func runResume(ctx context.Context, args []string, stderr io.Writer) int {
	if args[0] == daemon.CheckResumeFlag {
		fd := -1
		if len(args) == 2 {
			fd, _ = strconv.Atoi(args[1])
		}
		if fd < 3 {
			fmt.Fprintf(stderr, "Error: daemon: %s wants a descriptor number >= 3\n", daemon.CheckResumeFlag)
			return 2
		}
		out, err := daemon.CheckResume(ctx, fd)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		os.Stdout.Write(out)
		return 0
	}
	var arg, failed string
	switch {
	case len(args) == 2:
		arg = args[1]
	case len(args) == 4 && args[2] == daemon.ResumeFailedFlag:
		arg, failed = args[1], args[3]
	default:
		fmt.Fprintf(stderr, "Error: daemon: %s STATE:EXE [%s REASON]\n", daemon.ResumeFlag, daemon.ResumeFailedFlag)
		return 2
	}
	opts, err := daemon.ReadResume(arg, failed)
	if err == nil {
		var code int
		if code, err = serve(ctx, opts, nil); err == nil {
			return code
		}
	}
	err = daemon.FallBack(arg, failed, err)
	fmt.Fprintf(stderr, "Error: resume: %v\n", err)
	return 1
}

// daemonRun is how to run the daemon: tend daemon's flags, or
// supervisord's (runSupervisord).
type daemonRun struct {
	opts      daemon.Options // tend daemon's: the main command, --container
	detach    bool
	silent    bool              // no echo of the log to stderr in the foreground
	overrides map[string]string // [supervisord] options from supervisord's flags
}

// launchDaemon detaches (re-executing this command line, argv0 included,
// so that supervisord stays supervisord) or serves in the foreground.
func launchDaemon(ctx context.Context, g globals, r daemonRun, stderr io.Writer) int {
	ready := daemon.ReadyPipe()
	if r.detach && ready == nil {
		return daemon.Detach(os.Args, stderr)
	}
	path, err := findConfig(g)
	if err != nil {
		daemon.Report(ready, err)
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 2
	}
	var echo io.Writer = stderr
	if ready != nil || r.silent {
		echo = nil
	}
	opts := r.opts
	opts.Path, opts.Echo, opts.Detached, opts.Supervisord = path, echo, ready != nil, r.overrides
	code, err := serve(ctx, opts, ready)
	if err != nil {
		daemon.Report(ready, err)
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return code
}

// serve runs the daemon until it is shut down and returns tend's exit
// status (daemon.Exit). ready, if not nil, is told once the daemon serves.
func serve(ctx context.Context, opts daemon.Options, ready *os.File) (int, error) {
	d, err := daemon.Open(ctx, opts)
	if err != nil {
		return 2, err
	}
	defer d.Close()
	dc := d.Settings()
	ls, err := d.Listen()
	if err != nil {
		return 1, err
	}
	// Caught before the first spawn: a SIGHUP or SIGINT that tend
	// inherited ignored (nohup, `&`) is then not passed on to programs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, d.Signals()...)
	defer signal.Stop(sigs)
	if err := d.Start(ctx); err != nil {
		for _, l := range []net.Listener{ls.Control, ls.HTTP, ls.Health} {
			if l != nil {
				l.Close()
			}
		}
		return 1, err
	}
	log := d.Logger()
	door := control.Options{Engine: d.Engine(), Daemon: d, MainLog: d.MainLog(), Identification: dc.Identifier,
		Version: version.String()}
	servers := []*http.Server{serveOn(ls.Control, d.Door(control.New(door)), log)}
	if ls.HTTP != nil {
		door.Username, door.Password = dc.HTTP.Username, dc.HTTP.Password
		door.NoEval = dc.HTTP.Username == ""
		servers = append(servers, serveOn(ls.HTTP, d.Door(control.New(door)), log))
	}
	if ls.Health != nil {
		servers = append(servers, serveOn(ls.Health, control.NewHealth(d.Engine()), log))
	}

	x := d.Run(ctx, sigs, func() { daemon.Report(ready, nil) })

	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if s.Shutdown(sctx) != nil {
			s.Close()
		}
		cancel()
	}
	return x.Code, nil
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
