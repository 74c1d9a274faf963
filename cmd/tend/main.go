// Command tend is a process supervisor configured in Lua: the daemon
// (tend daemon), its control commands (tend status, start, stop, ...), the
// interactive REPL (tend repl) and config tools (tend check, tend init).
//
// This package only wires the pieces together: the engine (supervisor),
// the control plane (supervisor/control), the Lua host (vm) and the client
// side (repl).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/tend-sh/tend/dropin"
	"github.com/tend-sh/tend/repl"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/version"
)

func main() {
	supervisor.RunTrampoline()
	ctx := context.Background()
	switch dropin.Personality(os.Args[0]) {
	case dropin.SupervisordName:
		os.Exit(runSupervisord(ctx, os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
	case dropin.SupervisorctlName:
		os.Exit(runSupervisorctl(ctx, os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// usage is what tend prints for -h and for a missing command; the
// command lines come from the command table (built when printed, not at
// the start of every command).
func usage() string {
	return `usage: tend [-c FILE] [-s URL] [-u USER] [-p PASS] COMMAND [ARGS]

commands:
` + repl.Usage() + `
options (before or after the command):
  -c FILE    config file (default ./tend.lua, then /etc/tend/tend.lua)
  -s URL     daemon to talk to: unix:///path or http://host:port
  -u USER    username for HTTP authentication
  -p PASS    password for HTTP authentication
  --version  print tend's version and exit
`
}

// run dispatches a command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == completeCmd {
		return runComplete(ctx, args[1:], stdout)
	}
	g, rest, err := parseGlobals(args)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n%s", err, usage())
		return 2
	}
	if g.version {
		fmt.Fprintln(stdout, version.String())
		return 0
	}
	if g.help || len(rest) == 0 {
		fmt.Fprint(stdout, usage())
		if g.help {
			return 0
		}
		return 2
	}
	switch rest[0] {
	case "daemon":
		return runDaemon(ctx, g, rest[1:], stderr)
	case "check":
		return runCheck(ctx, g, rest[1:], stdout, stderr)
	case "init":
		return runInit(rest[1:], stdout, stderr)
	case "import":
		return runImport(rest[1:], stdout, stderr)
	case "help": // needs no daemon
		return repl.RunCommand(ctx, nil, rest, stdout, stderr)
	case "completion":
		return repl.RunCompletion(rest[1:], stdout, stderr)
	case "man":
		fmt.Fprint(stdout, repl.ManPage(version.String()))
		return 0
	case "repl":
		c, code := newClient(g, stderr)
		if c == nil {
			return code
		}
		return runREPL(ctx, c, rest[1:], ctlPrompt(g))
	}
	c, code := newClient(g, stderr)
	if c == nil {
		return code
	}
	// Ctrl-C ends a tail -f (or a long wait) cleanly, as in supervisorctl.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	return repl.RunCommandWith(ctx, c, rest, repl.Streams{In: repl.NewLineReader(os.Stdin), Out: stdout, Err: stderr,
		StartHint: startHint(g)})
}
