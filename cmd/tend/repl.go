package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tend-sh/tend/repl"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// runREPL runs `tend repl [--history FILE]` against the daemon c talks to
// and returns the exit code: 0, 1 when piped input had a failing line or
// the REPL could not run, 2 for bad arguments.
func runREPL(ctx context.Context, c *client.Client, args []string) int {
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
		path, err := historyPath()
		if err != nil {
			fmt.Fprintf(os.Stderr, "tend repl: %v; history is not kept\n", err)
		}
		*history = path
	}
	err := repl.Run(ctx, repl.Options{Client: c, In: os.Stdin, Out: os.Stdout, Err: os.Stderr, HistoryFile: *history})
	switch {
	case errors.Is(err, repl.ErrInputFailed):
		return 1 // each failure was already reported
	case err != nil:
		fmt.Fprintf(os.Stderr, "tend repl: %v\n", err)
		return 1
	}
	return 0
}

// historyPath returns the REPL history file, $XDG_STATE_HOME/tend/history
// or ~/.local/state/tend/history, creating its directory. It returns ""
// and an error when there is no usable place.
func historyPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) { // the XDG spec says to ignore relative paths
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("history: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "tend")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("history: %w", err)
	}
	return filepath.Join(dir, "history"), nil
}
