package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tend-sh/tend/repl"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/vm"
	"github.com/tend-sh/tend/vm/supervisordconf"
)

// defaultConfigs are tried in order when -c is not given.
var defaultConfigs = []string{"tend.lua", "/etc/tend/tend.lua"}

// findConfig returns the absolute path of the config to use: -c, or the
// first default that exists.
func findConfig(g globals) (string, error) {
	if g.config != "" {
		return filepath.Abs(g.config)
	}
	for _, p := range defaultConfigs {
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("no config file: none of %s exists (use -c FILE)", strings.Join(defaultConfigs, ", "))
}

// defaultSocket is the socket a daemon without a config would use.
func defaultSocket() string {
	if os.Getuid() == 0 {
		return "/run/tend.sock"
	}
	return fmt.Sprintf("/tmp/tend-%d.sock", os.Getuid())
}

// newClient returns a client for the daemon named by -s, or by the
// config's socket. On failure it prints why and returns the exit code.
func newClient(ctx context.Context, g globals, stderr io.Writer) (*repl.Client, int) {
	server, user, pass := g.server, g.user, g.password
	if server == "" || (user == "" && strings.HasPrefix(server, "http://")) {
		path, err := findConfig(g)
		switch {
		case err == nil:
			v, cfg, err := vm.Load(ctx, path, vm.Options{})
			if err != nil {
				// A broken config must not keep us from the daemon: reread
				// is how its error gets reported. Find the socket by text.
				if server == "" {
					server = "unix://" + socketFromText(path)
				}
				break
			}
			v.Close()
			if server == "" {
				server = "unix://" + cfg.Daemon.Socket.Path
			}
			if h := cfg.Daemon.HTTP; h != nil && user == "" && strings.HasPrefix(server, "http://") {
				user, pass = h.Username, h.Password
				if strings.HasPrefix(pass, "{SHA}") {
					pass = "" // a hashed password cannot be sent; -p is needed
				}
			}
		case g.config != "" && !errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return nil, 2
		}
	}
	if server == "" {
		server = "unix://" + defaultSocket()
	}
	c, err := repl.NewClient(server, user, pass)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return nil, 2
	}
	return c, 0
}

// runCheck loads the config and prints every resolved process (tend check).
func runCheck(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "Error: check takes no arguments, got %q\n", args)
		return 2
	}
	path, err := findConfig(g)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	v, cfg, err := vm.Load(ctx, path, vm.Options{})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer v.Close()
	if err := vm.FormatCheck(stdout, cfg); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// runInit prints the sample config (tend init).
func runInit(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "Error: init takes no arguments, got %q\n", args)
		return 2
	}
	fmt.Fprint(stdout, vm.Sample())
	return 0
}

// runImport prints the tend config equivalent to a supervisord config
// (tend import FILE). Warnings go to stderr; a file that cannot be read
// or parsed exits 2, as supervisord does for a config error.
func runImport(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "Error: import takes one argument, the supervisord config file, got %q\n", args)
		return 2
	}
	res, err := supervisordconf.ImportFile(args[0], control.Version)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 2
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	fmt.Fprint(stdout, res.Lua)
	return 0
}

// socketRE finds a literal socket path in a config: socket = { path = "..." }.
var socketRE = regexp.MustCompile(`socket\s*=\s*\{[^}]*\bpath\s*=\s*["']([^"']+)["']`)

// socketFromText returns the socket path written literally in the config
// at path, or the default socket.
func socketFromText(path string) string {
	data, err := os.ReadFile(path)
	if err == nil {
		if m := socketRE.FindSubmatch(data); m != nil {
			return string(m[1])
		}
	}
	return defaultSocket()
}
