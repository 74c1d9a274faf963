package repl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// where says which command lines accept a command.
type where uint8

const (
	// ctlCmd is a ctl command: `tend NAME` and the REPL both run it,
	// through RunCommand.
	ctlCmd where = iota
	// cliCmd is run by cmd/tend itself (daemon, check, repl ...); the
	// table only documents it for `tend -h`.
	cliCmd
	// shellCmd is a REPL builtin (exit, quit).
	shellCmd
)

// command is one entry of the command table, the single place that knows
// a command: `tend -h`, help and help NAME, the REPL's Tab completion and
// builtins, and the argument count checks are all derived from it.
type command struct {
	name    string
	args    string // argument synopsis for `tend -h`: "[-f|-N] NAME [stdout|stderr]"
	summary string // one line for `tend -h`
	// help is what `help NAME` prints, and what follows an argument count
	// error: supervisorctl's help text where it has the command. Empty
	// means "NAME ARGS<tab>summary".
	help string
	at   where

	// The argument count: min to max, max < 0 meaning no limit. need
	// names what a missing argument is ("a process name" gives "Error:
	// start requires a process name"; empty gives "Error: too few
	// arguments"). argsRC is the exit status of a count error, and
	// noUsage keeps the help text from following it.
	min, max int
	need     string
	argsRC   int
	noUsage  bool

	run func(x *ctl, ctx context.Context, args []string)

	// For shell completion: the command's own options, and what its
	// arguments are.
	flags    []string
	complete argKind
}

// argKind says what a command's arguments are, for shell completion.
type argKind uint8

const (
	argNone     argKind = iota
	argNames            // process names and group:* (asked of the daemon)
	argGroups           // group names (asked of the daemon)
	argCommands         // command names
	argFile             // a file
	argShells           // bash, zsh, fish
)

// commands is the command table, in the order `tend -h` lists it. Where
// supervisorctl 4.2.5 has the command, the help text, the argument errors
// and their exit statuses are its own, tabs included. The table is filled
// in by init because the help command's handler reads it.
var commands []command

func init() { commands = commandTable() }

// commandTable returns the command table.
func commandTable() []command {
	return []command{
		{name: "daemon", args: "[--detach] [--container] [-- CMD ARGS...]", summary: "run the daemon (foreground unless --detach); after --, a main command whose end ends it", at: cliCmd,
			flags: []string{"--detach", "--nodaemon", "--container"}},
		{name: "init", summary: "print a commented sample config", at: cliCmd},
		{name: "check", summary: "load the config and print every resolved process and the start order", at: cliCmd},
		{name: "import", args: "FILE", summary: "print the tend config equivalent to a supervisord.conf", at: cliCmd,
			min: 1, max: 1, need: "one argument, the supervisord config file", complete: argFile},

		{name: "status", args: "[-v] [NAME|GROUP:*|all ...]", summary: "show the state of processes; -v adds CPU, memory, restarts and last exit", max: -1,
			help: "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info",
			run:  (*ctl).statusOrTable, flags: verboseFlags, complete: argNames},
		{name: "events", args: "[-f] [--json] [NAME|GROUP:*|all ...]", summary: "the last state changes of processes (up to 1000), with exits and reasons; -f follows them, --json prints a JSON object a line", max: -1,
			run: (*ctl).events, flags: []string{"-f", "--json"}, complete: argNames},
		{name: "ps", args: "[NAME|GROUP:*|all ...]", summary: "one table of the processes: state, pid, uptime, CPU %, memory, fds, threads, restarts, last exit (status -v)", max: -1,
			run: (*ctl).ps, complete: argNames},
		{name: "top", args: "[-d SECS] [-n N] [--sort KEY] [NAME ...]", summary: "a live table of the processes by CPU or memory, with keys to filter, stop, start and restart (piped: a snapshot)", max: -1,
			help: topHelp, run: (*ctl).top, flags: topFlags, complete: argNames},
		{name: "start", args: "NAME|GROUP:*|all ...", summary: "start processes", min: 1, max: -1,
			need: "a process name", argsRC: exitInvalidArgs,
			help: "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes",
			run:  (*ctl).start, complete: argNames},
		{name: "stop", args: "NAME|GROUP:*|all ...", summary: "stop processes", min: 1, max: -1,
			need: "a process name", argsRC: exitGeneric,
			help: "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes",
			run:  (*ctl).stop, complete: argNames},
		{name: "restart", args: "[--rolling] NAME|GROUP:*|all ...", summary: "stop, then start processes; --rolling [--max-surge N] [--max-unavailable N] replaces them one by one, each old one stopped once its replacement is up", min: 1, max: -1,
			need: "a process name", argsRC: exitInvalidArgs,
			help: "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes",
			run:  (*ctl).restart, flags: rollFlags, complete: argNames},
		{name: "signal", args: "SIG NAME|GROUP:*|all ...", summary: "send a signal to processes", min: 2, max: -1,
			need: "a signal name and a process name", argsRC: exitInvalidArgs,
			help: "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes",
			run:  (*ctl).signal, complete: argNames},
		{name: "pid", args: "[NAME|all ...]", summary: "print the daemon's pid, or the pids of processes", max: -1,
			help: "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line.",
			run:  (*ctl).pid, complete: argNames},
		{name: "clear", args: "NAME|all ...", summary: "empty the log files of processes", min: 1, max: -1,
			need: "a process name", argsRC: exitGeneric,
			help: "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files",
			run:  (*ctl).clear, complete: argNames},
		{name: "avail", summary: "list every configured process", argsRC: exitGeneric,
			help: "avail\t\t\tDisplay all configured processes", run: (*ctl).avail},

		{name: "tail", args: "[-f|-N] NAME [stdout|stderr]", summary: "print the end of a process log, or follow it", min: 1, max: 3,
			argsRC: exitGeneric,
			help:   "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr",
			run:    (*ctl).tail, flags: []string{"-f"}, complete: argNames},
		{name: "maintail", args: "[-f|-N]", summary: "print the end of the daemon's log, or follow it", max: 1, argsRC: exitGeneric,
			help: "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file",
			run:  (*ctl).maintail, flags: []string{"-f"}},

		{name: "reread", summary: "read the config and show what changed, applying nothing", argsRC: exitGeneric,
			help: "reread \t\t\tReload the daemon's configuration files without add/remove", run: (*ctl).reread},
		{name: "update", args: "[GROUP|all ...]", summary: "apply the config: add, remove and restart changed groups", max: -1,
			help: "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups",
			run:  (*ctl).update, complete: argGroups},
		{name: "add", args: "GROUP ...", summary: "activate groups of the config that do not run (after reread)", max: -1,
			help: "add <name> [...]\tActivates any updates in config for process/group", run: (*ctl).add, complete: argGroups},
		{name: "remove", args: "GROUP ...", summary: "take stopped groups out of the running set", max: -1,
			help: "remove <name> [...]\tRemoves process/group from active config", run: (*ctl).remove, complete: argGroups},
		{name: "reload", summary: "restart the daemon and every process", argsRC: exitGeneric,
			help: "reload \t\tRestart the remote supervisord.", run: (*ctl).reload},
		{name: "shutdown", summary: "stop every process and the daemon", argsRC: exitGeneric,
			help: "shutdown \tShut the remote supervisord down.", run: (*ctl).shutdown},
		{name: "reexec", args: "[--binary PATH]", summary: "replace the daemon's binary in place (same pid): its processes, pipes and logs carry on untouched", max: 2,
			argsRC: exitInvalidArgs, help: "reexec\t\t\tExec the daemon's own binary again in place\nreexec --binary <path>\tExec another tend binary in place (an upgrade)",
			run: (*ctl).reexec, flags: []string{"--binary"}, complete: argFile},
		{name: "version", summary: "print the daemon's tend version (tend --version: this binary's)", argsRC: exitGeneric,
			help: "version\t\t\tShow the version of the remote tend daemon", run: (*ctl).version},

		{name: "scale", args: "PROGRAM N", summary: "change the number of instances of a program", min: 2, max: 2,
			need: "a program name and a number of processes", argsRC: exitInvalidArgs,
			help: "scale <program> <n>\tRun n instances of a program", run: (*ctl).scale, complete: argGroups},
		{name: "fg", args: "NAME", summary: "attach to a process: see its output, type its input (Ctrl-C leaves)", max: -1,
			help: "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit", run: (*ctl).fg, complete: argNames},
		{name: "eval", args: "'LUA'", summary: "run one chunk in the daemon", min: 1, max: -1,
			need: "a Lua chunk", argsRC: exitInvalidArgs, noUsage: true,
			help: "eval <chunk>\t\tRun a Lua chunk in the daemon; print what it prints and returns", run: (*ctl).eval},
		{name: "repl", args: "[--history FILE]", summary: "interactive: ctl commands and Lua", at: cliCmd,
			flags: []string{"--history"}, complete: argFile},
		{name: "completion", args: "bash|zsh|fish", summary: "print a shell completion script", at: cliCmd,
			min: 1, max: 1, need: "one argument, the shell (bash, zsh or fish)", complete: argShells},
		{name: "man", summary: "print the manual page in roff (tend man | man -l -)", at: cliCmd},
		{name: "help", args: "[COMMAND]", summary: "list the commands, or explain one", max: -1,
			help: "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>", run: (*ctl).help,
			complete: argCommands},

		{name: "exit", summary: "leave the REPL", help: "exit\tExit the tend shell.", at: shellCmd},
		{name: "quit", summary: "leave the REPL", help: "quit\tExit the tend shell.", at: shellCmd},
	}
}

// lookup returns the table entry of name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// commandNames returns the names of the commands at any of the given
// places, sorted.
func commandNames(at ...where) []string {
	var out []string
	for _, c := range commands {
		if slices.Contains(at, c.at) {
			out = append(out, c.name)
		}
	}
	slices.Sort(out)
	return out
}

// Commands returns the names the REPL reads as commands rather than Lua:
// the ctl commands and the REPL's builtins, sorted.
func Commands() []string { return commandNames(ctlCmd, shellCmd) }

// helpText is what `help NAME` prints for c.
func (c *command) helpText() string {
	if c.help != "" {
		return c.help
	}
	return strings.TrimSpace(c.name+" "+c.args) + "\t" + c.summary
}

// argsError returns the error an argument count outside c's bounds gets,
// or "" when n is within them.
func (c *command) argsError(n int) string {
	switch {
	case n < c.min && c.need != "":
		return fmt.Sprintf("Error: %s requires %s", c.name, c.need)
	case n < c.min:
		return "Error: too few arguments"
	case c.max < 0 || n <= c.max:
		return ""
	case c.max == 0:
		return fmt.Sprintf("Error: %s accepts no arguments", c.name)
	case c.min == c.max && c.need != "":
		return fmt.Sprintf("Error: %s requires %s", c.name, c.need)
	}
	return "Error: too many arguments"
}

// ArgsError returns the error a command gets for n arguments outside the
// bounds its table entry gives ("" when n is within them, or for a command
// the table does not know): the one check of argument counts, for the
// commands the binary runs itself (init, check, import, ...) as for ctl
// commands.
func ArgsError(name string, n int) string {
	if c := lookup(name); c != nil {
		return c.argsError(n)
	}
	return ""
}

// RunCompletion prints a shell's completion script (tend completion
// SHELL) and returns the exit status.
func RunCompletion(args []string, stdout, stderr io.Writer) int {
	if msg := ArgsError("completion", len(args)); msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}
	script, err := CompletionScript(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 2
	}
	fmt.Fprint(stdout, script)
	return 0
}

// Usage returns the command lines of `tend -h`, one per command tend
// runs from its command line, each with its arguments and summary.
func Usage() string {
	var lines [][2]string
	width := 0
	for _, c := range commands {
		if c.at == shellCmd {
			continue
		}
		left := strings.TrimSpace(c.name + " " + c.args)
		width = max(width, len(left))
		lines = append(lines, [2]string{left, c.summary})
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, l[0], l[1])
	}
	return b.String()
}

// writeHelp prints `help` (the list of ctl commands, as supervisorctl
// prints its topics) or `help TOPIC`. Both succeed, as in supervisorctl,
// even for a topic it has no help on.
func writeHelp(w io.Writer, topic string) {
	if topic == "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "default commands (type help <topic>):")
		fmt.Fprintln(w, "=====================================")
		fmt.Fprintln(w, strings.Join(slices.DeleteFunc(commandNames(ctlCmd), func(n string) bool { return n == "help" }), " "))
		fmt.Fprintln(w)
		return
	}
	if c := lookup(topic); c != nil {
		fmt.Fprintln(w, c.helpText())
		return
	}
	fmt.Fprintf(w, "*** No help on %s\n", topic)
}
