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
	ln, err := control.ListenUnix(dc.Socket.Path, dc.Socket.Mode, dc.Socket.Owner)
	if err != nil {
		return 1, err
	}
	var tcp net.Listener
	if dc.HTTP != nil {
		if tcp, err = net.Listen("tcp", dc.HTTP.Listen); err != nil {
			ln.Close()
			return 1, fmt.Errorf("listen on %s: %w", dc.HTTP.Listen, err)
		}
	}
	var health net.Listener
	if dc.Health != nil {
		if health, err = net.Listen("tcp", dc.Health.Listen); err != nil {
			ln.Close()
			if tcp != nil {
				tcp.Close()
			}
			return 1, fmt.Errorf("health: listen on %s: %w", dc.Health.Listen, err)
		}
	}
	// Caught before the first spawn: a SIGHUP or SIGINT that tend
	// inherited ignored (nohup, `&`) is then not passed on to programs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, d.Signals()...)
	defer signal.Stop(sigs)
	if err := d.Start(ctx); err != nil {
		for _, l := range []net.Listener{ln, tcp, health} {
			if l != nil {
				l.Close()
			}
		}
		return 1, err
	}
	log := d.Logger()
	door := control.Options{Engine: d.Engine(), Daemon: d, MainLog: d.MainLog(), Identification: dc.Identifier,
		Version: version.String()}
	servers := []*http.Server{serveOn(ln, control.New(door), log)}
	if tcp != nil {
		door.Username, door.Password = dc.HTTP.Username, dc.HTTP.Password
		door.NoEval = dc.HTTP.Username == ""
		servers = append(servers, serveOn(tcp, control.New(door), log))
	}
	if health != nil {
		servers = append(servers, serveOn(health, control.NewHealth(d.Engine()), log))
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
