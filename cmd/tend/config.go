package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tend-sh/tend/repl"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control/client"
	"github.com/tend-sh/tend/version"
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

// newClient returns a client for the daemon named by -s, or by the
// config's socket. The config is not run for that: its daemon{} block is
// read as text (vm.ReadDialInfo). On failure it prints why and returns the
// exit code.
func newClient(g globals, stderr io.Writer) (*client.Client, int) {
	server, user, pass := g.server, g.user, g.password
	if server == "" || (user == "" && strings.HasPrefix(server, "http://")) {
		path, err := findConfig(g)
		switch {
		case err == nil:
			info, err := vm.ReadDialInfo(path)
			if err != nil && !errors.Is(err, vm.ErrUnparsed) {
				fmt.Fprintf(stderr, "Error: %v\n", err)
				return nil, 2
			}
			if ctl := info.Ctl; ctl != nil && server == "" {
				// A supervisord config: as supervisorctl, [supervisorctl]
				// names the daemon and the credentials -u/-p override.
				server = ctl.ServerURL
				if user == "" {
					user = ctl.Username
				}
				if pass == "" {
					pass = ctl.Password
				}
			}
			if server == "" {
				server = "unix://" + info.Socket
			}
			if h := info.HTTP; h != nil && user == "" && strings.HasPrefix(server, "http://") {
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
		server = "unix://" + vm.DefaultSocket()
	}
	c, err := client.New(server, user, pass)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return nil, 2
	}
	return c, 0
}

// runCheck loads the config and prints every resolved process (tend check).
func runCheck(ctx context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if msg := repl.ArgsError("check", len(args)); msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}
	path, err := findConfig(g)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	v, cfg, err := vm.Load(ctx, path, vm.Options{Check: true})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer v.Close()
	if cfg.INI != nil {
		for _, w := range cfg.INI.Warnings {
			fmt.Fprintf(stderr, "Warning: %s\n", w)
		}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	if b := supervisor.BudgetFDs(cfg.Specs); !b.Fits() {
		fmt.Fprintf(stderr, "Warning: file descriptors: %s\n", b)
	}
	if err := vm.FormatCheck(stdout, cfg); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// runInit prints the sample config (tend init).
func runInit(args []string, stdout, stderr io.Writer) int {
	if msg := repl.ArgsError("init", len(args)); msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}
	fmt.Fprint(stdout, vm.Sample())
	return 0
}

// runImport prints the tend config equivalent to a supervisord config
// (tend import FILE). Warnings go to stderr; a file that cannot be read
// or parsed exits 2, as supervisord does for a config error.
func runImport(args []string, stdout, stderr io.Writer) int {
	if msg := repl.ArgsError("import", len(args)); msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}
	res, err := supervisordconf.ImportFile(args[0], version.String())
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

// ctlPrompt is the REPL's prompt name: [supervisorctl] prompt= of a
// supervisord config ("supervisor" when unset, as supervisorctl), else
// "" (tend's own).
func ctlPrompt(g globals) string {
	path, err := findConfig(g)
	if err != nil {
		return ""
	}
	info, err := vm.ReadDialInfo(path)
	if err != nil || info.Ctl == nil {
		return ""
	}
	return info.Ctl.Prompt
}
