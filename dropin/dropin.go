// Package dropin reads the command lines of supervisord and supervisorctl
// in tend's terms, so that tend installed under those names (symlinks to
// the one binary) runs the init scripts, Dockerfiles and playbooks written
// for them unchanged. It parses; cmd/tend runs what it returns.
package dropin

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tend-sh/tend/vm/supervisordconf"
)

// The names tend answers to besides its own.
const (
	SupervisordName   = "supervisord"
	SupervisorctlName = "supervisorctl"
)

// Personality returns SupervisordName or SupervisorctlName when argv0
// (os.Args[0]) is one of them, else "".
func Personality(argv0 string) string {
	switch b := filepath.Base(argv0); b {
	case SupervisordName, SupervisorctlName:
		return b
	}
	return ""
}

// Answer is what a command line gets when it runs nothing: help, the
// version, or a usage error (exit 2, as supervisord's and supervisorctl's).
type Answer struct {
	Stdout, Stderr string
	Code           int
}

// usageError words a bad command line as supervisord and supervisorctl do.
func usageError(argv0, msg string) *Answer {
	return &Answer{Stderr: fmt.Sprintf("Error: %s\nFor help, use %s -h\n", msg, argv0), Code: 2}
}

// searchPaths are the config files supervisord and supervisorctl try, in
// order, without -c (options.py): relative to the binary's folder's
// parent, then the working directory, then /etc.
func searchPaths(argv0 string) []string {
	here := filepath.Dir(filepath.Dir(argv0))
	return []string{
		filepath.Join(here, "etc", "supervisord.conf"), filepath.Join(here, "supervisord.conf"),
		"supervisord.conf", "etc/supervisord.conf", "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf",
	}
}

// findConfig returns -c's file if it exists, else the first default path
// that exists ("" when none does and -c was not given).
func findConfig(argv0, given string) (string, *Answer) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", usageError(argv0, "could not find config file "+given)
		}
		return given, nil
	}
	for _, p := range searchPaths(argv0) {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", nil
}

// isINI reports whether the file at path is a supervisord config (not a
// tend.lua run under supervisord's name).
func isINI(path string) bool {
	src, err := os.ReadFile(path)
	return err == nil && supervisordconf.IsINI(src)
}

// Daemon is a supervisord command line in tend's terms: tend daemon -c
// Config, detached unless NoDaemon.
type Daemon struct {
	Config   string
	NoDaemon bool // -n, or nodaemon=true in [supervisord]
	Silent   bool // -s: a foreground daemon does not echo its log
	// Overrides are the [supervisord] options given as flags; they win
	// over the config's (vm.Options.Supervisord).
	Overrides map[string]string
	Warnings  []string // flags tend accepts and ignores, and why
}

var supervisordFlags = flagSpec{
	short: "?hc:vnu:m:d:l:y:z:e:j:i:q:a:kts",
	long: []string{"help", "configuration=", "version", "nodaemon", "user=", "umask=", "directory=", "logfile=",
		"logfile_maxbytes=", "logfile_backups=", "loglevel=", "pidfile=", "identifier=", "childlogdir=",
		"minfds=", "minprocs=", "nocleanup", "strip_ansi", "profile_options=", "silent"},
	names: map[byte]string{'?': "help", 'h': "help", 'c': "configuration", 'v': "version", 'n': "nodaemon",
		'u': "user", 'm': "umask", 'd': "directory", 'l': "logfile", 'y': "logfile_maxbytes",
		'z': "logfile_backups", 'e': "loglevel", 'j': "pidfile", 'i': "identifier", 'q': "childlogdir",
		'a': "minfds", 'k': "nocleanup", 't': "strip_ansi", 's': "silent"},
}

// overridden are the flags that set the [supervisord] option of their
// name; the config's conversion decides what tend makes of each.
var overridden = []string{"user", "umask", "directory", "logfile", "logfile_maxbytes", "logfile_backups",
	"loglevel", "pidfile", "identifier", "childlogdir", "minfds", "nocleanup"}

// ignored are the flags tend accepts and does nothing with, and why.
var ignored = map[string]string{
	"minprocs":        "tend has no process-count limit to raise",
	"strip_ansi":      "tend writes child output to its logs as it comes",
	"profile_options": "tend is not a Python program to profile",
}

// Supervisord reads supervisord's command line (args without argv0).
// version is what -v prints. It returns the daemon to run, or the answer
// when there is nothing to run.
func Supervisord(argv0 string, args []string, version string) (*Daemon, *Answer) {
	opts, rest, err := supervisordFlags.getopt(args)
	if err != nil {
		return nil, usageError(argv0, err.Error())
	}
	if len(rest) > 0 {
		return nil, usageError(argv0, fmt.Sprintf("positional arguments are not supported: %q", rest))
	}
	d := &Daemon{Overrides: map[string]string{}}
	var config string
	for _, o := range opts {
		switch {
		case o.name == "help":
			return nil, &Answer{Stdout: supervisordHelp(argv0)}
		case o.name == "version":
			return nil, &Answer{Stdout: version + "\n"}
		case o.name == "configuration":
			config = o.value
		case o.name == "nodaemon":
			d.NoDaemon = true
		case o.name == "silent":
			d.Silent = true
		case o.name == "nocleanup":
			d.Overrides["nocleanup"] = "true"
		case slices.Contains(overridden, o.name):
			d.Overrides[o.name] = o.value
		default:
			d.Warnings = append(d.Warnings, fmt.Sprintf("--%s is ignored: %s", o.name, ignored[o.name]))
		}
	}
	path, ans := findConfig(argv0, config)
	if ans != nil {
		return nil, ans
	}
	if path == "" {
		return nil, usageError(argv0, fmt.Sprintf("No config file found at default paths (%s); use the -c option to specify a config file at a different path",
			strings.Join(searchPaths(argv0), ", ")))
	}
	d.Config = path
	if !isINI(path) {
		if len(d.Overrides) > 0 {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s is a tend config: the [supervisord] flags are ignored (set them in daemon{})", path))
		}
		return d, nil
	}
	s, _, err := supervisordconf.Section(path, "supervisord")
	if err != nil {
		return nil, usageError(argv0, err.Error())
	}
	if v, ok := s["nodaemon"]; ok && isTrue(v) {
		d.NoDaemon = true
	}
	if d.Silent && !d.NoDaemon {
		d.Warnings = append(d.Warnings, "--silent is ignored: it only matters with --nodaemon")
	}
	return d, nil
}

// isTrue is supervisord's boolean for true.
func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true
	}
	return false
}

func supervisordHelp(argv0 string) string {
	return fmt.Sprintf(`%s -- run tend, a process supervisor, as supervisord does.

Usage: %s [options]

Options:
-c/--configuration FILE -- configuration file (supervisord's INI or tend's Lua)
-n/--nodaemon -- run in the foreground (same as 'nodaemon=true' in config file)
-s/--silent -- no logs to stderr (with --nodaemon)
-h/--help -- print this usage message and exit
-v/--version -- print tend's version number and exit
-u/--user USER -- the [supervisord] user= option
-m/--umask UMASK -- umask of the daemon (default 022)
-d/--directory DIRECTORY -- directory to chdir to when daemonized
-l/--logfile FILENAME -- log file path
-y/--logfile_maxbytes BYTES -- size of log file before rotation
-z/--logfile_backups NUM -- number of backups to keep when max bytes reached
-e/--loglevel LEVEL -- log level (debug,info,warn,error,critical)
-j/--pidfile FILENAME -- write a pid file for the daemon process to FILENAME
-i/--identifier STR -- identifier used for this instance of supervisord
-q/--childlogdir DIRECTORY -- the log directory for child process logs
-k/--nocleanup -- prevent the process from performing cleanup (removal of
                  old automatic child log files) at startup.
-a/--minfds NUM -- the minimum number of file descriptors for start success
-t/--strip_ansi -- accepted and ignored: child output is logged as it comes
--minprocs NUM -- accepted and ignored: tend has no process-count limit
--profile_options OPTIONS -- accepted and ignored
`, argv0, argv0)
}

// Ctl is a supervisorctl command line in tend's terms: the tend command
// lines to run in turn (supervisorctl -i CMD runs CMD, then the REPL).
type Ctl struct {
	Runs [][]string
}

var supervisorctlFlags = flagSpec{
	short: "?hc:is:u:p:r:",
	long:  []string{"help", "configuration=", "interactive", "serverurl=", "username=", "password=", "history_file="},
	names: map[byte]string{'?': "help", 'h': "help", 'c': "configuration", 'i': "interactive", 's': "serverurl",
		'u': "username", 'p': "password", 'r': "history_file"},
}

// defaultServerURL is supervisorctl's serverurl without a config.
const defaultServerURL = "http://localhost:9001"

// Supervisorctl reads supervisorctl's command line (args without argv0).
// The daemon is -s, else the config's [supervisorctl] serverurl (read by
// tend's client), else supervisorctl's default http://localhost:9001.
func Supervisorctl(argv0 string, args []string) (*Ctl, *Answer) {
	opts, rest, err := supervisorctlFlags.getopt(args)
	if err != nil {
		return nil, usageError(argv0, err.Error())
	}
	var config, server, history string
	var globals []string
	interactive := len(rest) == 0
	for _, o := range opts {
		switch o.name {
		case "help":
			return nil, &Answer{Stdout: supervisorctlHelp(argv0)}
		case "configuration":
			config = o.value
		case "interactive":
			interactive = true
		case "serverurl":
			server = o.value
		case "username":
			globals = append(globals, "-u", o.value)
		case "password":
			globals = append(globals, "-p", o.value)
		case "history_file":
			history = o.value
		}
	}
	path, ans := findConfig(argv0, config)
	if ans != nil {
		return nil, ans
	}
	if path != "" {
		globals = append(globals, "-c", path)
	}
	switch {
	case server != "":
		globals = append(globals, "-s", server)
	case path == "":
		globals = append(globals, "-s", defaultServerURL)
	}
	c := &Ctl{}
	if len(rest) > 0 {
		c.Runs = append(c.Runs, slices.Concat(globals, rest))
	}
	if interactive {
		r := slices.Concat(globals, []string{"repl"})
		if history != "" {
			r = append(r, "--history", history)
		}
		c.Runs = append(c.Runs, r)
	}
	return c, nil
}

func supervisorctlHelp(argv0 string) string {
	return fmt.Sprintf(`%s -- control tend (or supervisord) from the command line.

Usage: %s [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-i/--interactive -- start an interactive shell after executing commands
-s/--serverurl URL -- URL on which the daemon listens
     (default "http://localhost:9001").
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server
-r/--history-file -- keep a readline history (if readline is available)

action [arguments] -- see below

Actions are commands like "tail" or "stop".  If -i is specified or no action is
specified on the command line, a "shell" interpreting actions typed
interactively is started.  Use the action "help" to find out about available
actions.
`, argv0, argv0)
}
