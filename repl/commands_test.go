package repl

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor/control/client"
)

// TestCommandTable checks that every entry is complete for where it is
// used, and that the ctl commands are the ones the daemon names in
// /v1/complete.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if seen[c.name] {
			t.Errorf("%s: listed twice", c.name)
		}
		seen[c.name] = true
		if c.summary == "" {
			t.Errorf("%s: no summary for tend -h", c.name)
		}
		if (c.at == ctlCmd) != (c.run != nil) {
			t.Errorf("%s: a ctl command needs a handler, and only a ctl command has one", c.name)
		}
		if c.max >= 0 && c.max < c.min {
			t.Errorf("%s: max %d < min %d", c.name, c.max, c.min)
		}
		if c.at == ctlCmd && c.argsError(0)+c.argsError(99) != "" && c.argsRC == 0 {
			t.Errorf("%s: an argument count error needs an exit status", c.name)
		}
	}
}

// TestArgumentCountErrors runs each command with a wrong number of
// arguments against a daemon that is not there: the count is checked
// first, with supervisorctl's text, help and exit status.
func TestArgumentCountErrors(t *testing.T) {
	c, err := client.New("unix://"+filepath.Join(t.TempDir(), "none.sock"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		out  string
		rc   int
	}{
		{[]string{"start"}, "Error: start requires a process name\nstart <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes\n", 2},
		{[]string{"stop"}, "Error: stop requires a process name\nstop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes\n", 1},
		{[]string{"restart"}, "Error: restart requires a process name\nrestart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\n", 2},
		{[]string{"signal", "HUP"}, "Error: signal requires a signal name and a process name\nsignal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes\n", 2},
		{[]string{"clear"}, "Error: clear requires a process name\nclear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files\n", 1},
		{[]string{"avail", "x"}, "Error: avail accepts no arguments\navail\t\t\tDisplay all configured processes\n", 1},
		{[]string{"reread", "x"}, "Error: reread accepts no arguments\nreread \t\t\tReload the daemon's configuration files without add/remove\n", 1},
		{[]string{"reload", "x"}, "Error: reload accepts no arguments\nreload \t\tRestart the remote supervisord.\n", 1},
		{[]string{"shutdown", "x"}, "Error: shutdown accepts no arguments\nshutdown \tShut the remote supervisord down.\n", 1},
		{[]string{"version", "x"}, "Error: version accepts no arguments\nversion\t\t\tShow the version of the remote tend daemon\n", 1},
		{[]string{"tail"}, "Error: too few arguments\ntail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr\n", 1},
		{[]string{"tail", "-f", "a", "stdout", "x"}, "Error: too many arguments\ntail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr\n", 1},
		{[]string{"tail", "-f"}, "Error: tail requires process name\n", 1},
		{[]string{"maintail", "-f", "x"}, "Error: too many arguments\nmaintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n", 1},
		{[]string{"scale", "web"}, "Error: scale requires a program name and a number of processes\nscale <program> <n>\tRun n instances of a program\n", 2},
		{[]string{"scale", "web", "2", "3"}, "Error: scale requires a program name and a number of processes\nscale <program> <n>\tRun n instances of a program\n", 2},
		{[]string{"eval"}, "Error: eval requires a Lua chunk\n", 2},
		{[]string{"daemon"}, "*** Unknown syntax: daemon\n", 1},
		{[]string{"exit"}, "*** Unknown syntax: exit\n", 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, rc := runCtl(t, c, tt.args...)
			if out != tt.out || rc != tt.rc {
				t.Errorf("rc %d\n%q\nwant rc %d\n%q", rc, out, tt.rc, tt.out)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		topic, want string
	}{
		{"", "\ndefault commands (type help <topic>):\n=====================================\n" +
			"add avail clear eval events fg maintail pid ps reexec reload remove reread restart scale shutdown signal start status stop tail top update version\n\n"},
		{"stop", "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes\n"},
		{"help", "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>\n"},
		{"daemon", "daemon [--detach] [--container] [-- CMD ARGS...]\trun the daemon (foreground unless --detach); after --, a main command whose end ends it\n"},
		{"nosuch", "*** No help on nosuch\n"},
		{"stop start", "*** No help on stop start\n"},
	}
	for _, tt := range tests {
		var out, errs bytes.Buffer
		args := append([]string{"help"}, strings.Fields(tt.topic)...)
		// help needs no daemon: a client of nothing will do.
		c, _ := client.New("unix:///nonexistent", "", "")
		if rc := RunCommand(context.Background(), c, args, &out, &errs); rc != 0 || out.String() != tt.want || errs.Len() > 0 {
			t.Errorf("help %s: rc %d\n%q\nwant\n%q", tt.topic, rc, out.String(), tt.want)
		}
	}
}

// TestUsage checks that `tend -h` lists every command tend runs, each
// once, in one aligned column.
func TestUsage(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(Usage(), "\n"), "\n")
	var want []string
	for _, c := range commands {
		if c.at != shellCmd {
			want = append(want, c.name)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("%d usage lines for %d commands:\n%s", len(lines), len(want), Usage())
	}
	col := -1
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 0 || f[0] != want[i] {
			t.Errorf("line %d is %q, want command %s", i, l, want[i])
		}
		summary := commands[slices.IndexFunc(commands, func(c command) bool { return c.name == want[i] })].summary
		at := strings.Index(l, "  "+summary)
		if col == -1 {
			col = at
		}
		if at < 0 || at != col {
			t.Errorf("line %q: summary at column %d, want %d", l, at, col)
		}
	}
}
