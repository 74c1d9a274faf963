package main

import (
	"fmt"
	"strings"
)

// globals are the options every command accepts, before or after the
// command name.
type globals struct {
	config   string // -c FILE
	server   string // -s URL
	user     string // -u USER
	password string // -p PASS
	help     bool
	version  bool // --version
}

// parseGlobals takes the global options out of args wherever they are and
// returns the rest (the command and its own arguments). After "eval" only
// options directly following the command are taken, so a Lua chunk is
// never mistaken for one.
func parseGlobals(args []string) (globals, []string, error) {
	var g globals
	var rest []string
	targets := map[string]*string{
		"-c": &g.config, "--config": &g.config, "--configuration": &g.config,
		"-s": &g.server, "--serverurl": &g.server,
		"-u": &g.user, "--username": &g.user,
		"-p": &g.password, "--password": &g.password,
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" && len(rest) > 0 {
			// The rest is a main command (tend daemon -- CMD ARGS...),
			// whose options are its own.
			rest = append(rest, args[i:]...)
			break
		}
		if len(rest) > 0 && rest[0] == "eval" && len(rest) > 1 {
			rest = append(rest, a)
			continue
		}
		if a == "-h" || a == "--help" {
			if len(rest) == 0 {
				g.help = true
				continue
			}
		}
		if a == "--version" && len(rest) == 0 {
			g.version = true
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "-") {
			rest = append(rest, a)
			continue
		}
		dst, ok := targets[name]
		if !ok {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return g, nil, fmt.Errorf("option %s requires a value", name)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	return g, rest, nil
}
