package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tend-sh/tend/repl"
)

// completeCmd is the hidden command the shell completion scripts run to
// ask the daemon for names: tend __complete names|groups [WORDS...], the
// words being the command line so far, whose -c/-s/-u/-p say which
// daemon.
const completeCmd = "__complete"

// completeTimeout bounds the hidden command: a shell waits for it at
// every Tab press.
const completeTimeout = 500 * time.Millisecond

// runComplete prints one name per line of what the daemon knows. With no
// daemon, a bad command line or a slow daemon it prints nothing; it
// always exits 0, so completion never shows an error.
func runComplete(ctx context.Context, args []string, stdout io.Writer) int {
	if len(args) == 0 {
		return 0
	}
	g, _, err := parseGlobals(args[1:])
	if err != nil {
		return 0
	}
	c, _ := newClient(g, io.Discard)
	if c == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	if words := repl.CompleteWords(ctx, c, args[0]); len(words) > 0 {
		fmt.Fprintln(stdout, strings.Join(words, "\n"))
	}
	return 0
}

// startHint says how to start a daemon, printed when none answers.
func startHint(g globals) string {
	if path, err := findConfig(g); err == nil && g.server == "" {
		return "No tend daemon is running there. Start one with: tend daemon -c " + path + " --detach"
	}
	return "No tend daemon is running there. Start one with: tend daemon -c FILE --detach (tend init > tend.lua writes a config)"
}
