package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/tend-sh/tend/repl"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// runREPL runs `tend repl [--history FILE]` against the daemon c talks to
// and returns the exit code: 0, 1 when piped input had a failing line or
// the REPL could not run, 2 for bad arguments.
func runREPL(ctx context.Context, c *client.Client, args []string, prompt string) int {
	fl := flag.NewFlagSet("repl", flag.ContinueOnError)
	fl.SetOutput(os.Stderr)
	history := fl.String("history", "", "history file (default $XDG_STATE_HOME/tend/history or ~/.local/state/tend/history)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "Error: repl takes no arguments, got %q\n", fl.Args())
		return 2
	}
	if *history == "" {
		path, err := repl.DefaultHistoryFile()
		if err != nil {
			fmt.Fprintf(os.Stderr, "tend repl: %v; history is not kept\n", err)
		}
		*history = path
	}
	err := repl.Run(ctx, repl.Options{Client: c, In: os.Stdin, Out: os.Stdout, Err: os.Stderr, HistoryFile: *history, Prompt: prompt})
	switch {
	case errors.Is(err, repl.ErrInputFailed):
		return 1 // each failure was already reported
	case err != nil:
		fmt.Fprintf(os.Stderr, "tend repl: %v\n", err)
		return 1
	}
	return 0
}
