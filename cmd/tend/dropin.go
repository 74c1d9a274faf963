package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tend-sh/tend/dropin"
	"github.com/tend-sh/tend/version"
)

// answer prints a command line's answer and returns its exit code.
func answer(a *dropin.Answer, stdout, stderr io.Writer) int {
	fmt.Fprint(stdout, a.Stdout)
	fmt.Fprint(stderr, a.Stderr)
	return a.Code
}

// runSupervisord runs tend installed as supervisord: supervisord's flags,
// tend's daemon.
func runSupervisord(ctx context.Context, argv0 string, args []string, stdout, stderr io.Writer) int {
	d, a := dropin.Supervisord(argv0, args, version.String())
	if a != nil {
		return answer(a, stdout, stderr)
	}
	for _, w := range d.Warnings { // a detached child's stderr is /dev/null
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	return launchDaemon(ctx, globals{config: d.Config},
		daemonRun{detach: !d.NoDaemon, silent: d.Silent, overrides: d.Overrides}, stderr)
}

// runSupervisorctl runs tend installed as supervisorctl: supervisorctl's
// flags, tend's commands and REPL. The exit code is the last command's.
func runSupervisorctl(ctx context.Context, argv0 string, args []string, stdout, stderr io.Writer) int {
	c, a := dropin.Supervisorctl(argv0, args)
	if a != nil {
		return answer(a, stdout, stderr)
	}
	code := 0
	for _, r := range c.Runs {
		code = run(ctx, r, stdout, stderr)
	}
	return code
}
