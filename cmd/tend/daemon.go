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
	"syscall"
	"time"

	"github.com/tend-sh/tend/daemon"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/version"
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
	return launchDaemon(ctx, g, daemonRun{detach: detached}, stderr)
}

// daemonRun is how to run the daemon: tend daemon's flags, or
// supervisord's (runSupervisord).
type daemonRun struct {
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
	code, err := serve(ctx, daemon.Options{Path: path, Echo: echo, Detached: ready != nil, Supervisord: r.overrides}, ready)
	if err != nil {
		daemon.Report(ready, err)
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return code
}

// serve runs the daemon until it is shut down. ready, if not nil, is
// told once the daemon serves.
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
	// Caught before the first spawn: a SIGHUP or SIGINT that tend
	// inherited ignored (nohup, `&`) is then not passed on to programs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	if err := d.Start(ctx); err != nil {
		ln.Close()
		if tcp != nil {
			tcp.Close()
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

	d.Run(ctx, sigs, func() { daemon.Report(ready, nil) })

	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if s.Shutdown(sctx) != nil {
			s.Close()
		}
		cancel()
	}
	return 0, nil
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
