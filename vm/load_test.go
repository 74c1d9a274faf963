package vm

import (
	"context"
	"os/user"
	"strings"
	"testing"
)

func TestLoadBrokenConfigs(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"syntax error", map[string]string{"tend.lua": "program \"web\" {\n  command = = 1\n}"},
			"tend.lua:2: syntax error near '='"},
		{"unterminated", map[string]string{"tend.lua": "program \"web\" {\n command = \"x\"\n"},
			"tend.lua:1: '}' expected (to close '{' at line 1) near end of file"},
		{"runtime error", map[string]string{"tend.lua": "local x = nil\nprint(x.y)"},
			"tend.lua:2: attempt to index a non-table object(nil) with key 'y'"},
		{"error()", map[string]string{"tend.lua": "\n\nerror('no config for you')"},
			"tend.lua:3: no config for you"},
		{"type error", map[string]string{"tend.lua": "program \"web\" {\n  command = \"sleep 1\",\n  startsecs = \"soon\",\n}"},
			`tend.lua:3: program "web": startsecs must be a number >= 0, got "soon"`},
		{"negative number", map[string]string{"tend.lua": `program "web" { command = "sleep 1", stopwaitsecs = -1 }`},
			`tend.lua:1: program "web": stopwaitsecs must be a number >= 0, got -1`},
		{"unknown option", map[string]string{"tend.lua": `program "web" { command = "sleep 1", startsec = 3 }`},
			`tend.lua:1: program "web": unknown option "startsec" (did you mean "startsecs"?)`},
		{"unknown option far off", map[string]string{"tend.lua": `program "web" { command = "sleep 1", zzzzzzzzzz = 3 }`},
			`tend.lua:1: program "web": unknown option "zzzzzzzzzz"`},
		{"duplicate program", map[string]string{"tend.lua": "program \"web\" { command = \"a\" }\n\nprogram \"web\" { command = \"b\" }"},
			`tend.lua:3: program "web": already declared at tend.lua:1`},
		{"unknown user", map[string]string{"tend.lua": `program "web" { command = "sleep 1", user = "nosuchuser_xyz" }`},
			`tend.lua:1: program "web": user: invalid user name "nosuchuser_xyz"`},
		{"numprocs without process_num", map[string]string{"tend.lua": `program "web" { command = "sleep 1", numprocs = 2 }`},
			`tend.lua:1: program "web": %(process_num) must be present within process_name when numprocs > 1`},
		{"missing command", map[string]string{"tend.lua": `program "web" { autostart = false }`},
			`tend.lua:1: program "web": command is required`},
		{"autorestart", map[string]string{"tend.lua": `program "web" { command = "x", autorestart = "sometimes" }`},
			`tend.lua:1: program "web": autorestart must be true, false or "unexpected", got "sometimes"`},
		{"bad size", map[string]string{"tend.lua": `program "web" { command = "x", stdout_logfile_maxbytes = "lots" }`},
			`tend.lua:1: program "web": stdout_logfile_maxbytes must be a size (bytes, or a string such as "50MB"), got "lots"`},
		{"bad signal", map[string]string{"tend.lua": `program "web" { command = "x", stopsignal = "NOPE" }`},
			`tend.lua:1: program "web": stopsignal must be a signal name ("TERM") or number, got "NOPE"`},
		{"bad exitcodes", map[string]string{"tend.lua": `program "web" { command = "x", exitcodes = { 0, "two" } }`},
			`tend.lua:1: program "web": exitcodes must be a list of integers from 0 to 255, got "two" in it`},
		{"bad umask", map[string]string{"tend.lua": `program "web" { command = "x", umask = "099" }`},
			`tend.lua:1: program "web": umask must be a number or an octal string such as "022", got "099"`},
		{"unbalanced quote", map[string]string{"tend.lua": `program "web" { command = "echo don't" }`},
			`tend.lua:1: program "web": command: split "echo don't": no closing quotation`},
		{"unknown expansion", map[string]string{"tend.lua": `program "web" { command = "run %(nope)s" }`},
			`tend.lua:1: program "web": command: format string "run %(nope)s" contains names ("nope") which cannot be expanded; available names: `},
		{"bad environment string", map[string]string{"tend.lua": `program "web" { command = "x", environment = "A=foo@bar" }`},
			`tend.lua:1: program "web": environment: unexpected end of key/value pairs in "A=foo@bar"`},
		{"hook not a function", map[string]string{"tend.lua": `program "web" { command = "x", on_exit = "restart" }`},
			`tend.lua:1: program "web": on_exit must be a function, got "restart"`},
		{"option function fails", map[string]string{"tend.lua": "program \"web\" {\n  command = function(p)\n    return p.nope.x\n  end,\n}"},
			`tend.lua:2: program "web": command: tend.lua:3: attempt to index a non-table object(nil) with key 'x'`},
		{"option function returns bad type", map[string]string{"tend.lua": `program "web" { command = "x", priority = function(p) return "high" end }`},
			`tend.lua:1: program "web": priority must be an integer, got "high"`},
		{"numprocs function", map[string]string{"tend.lua": `program "web" { command = "x", numprocs = function() return 2 end }`},
			`tend.lua:1: program "web": numprocs must be a number, not a function: it is needed before instances exist`},
		{"no option table", map[string]string{"tend.lua": `program "web"`},
			`tend.lua:1: program "web": has no option table: write program "web" { command = "..." }`},
		{"bad name", map[string]string{"tend.lua": `program "a:b" { command = "x" }`},
			`tend.lua:1: program "a:b": a name must be non-empty and may not contain ':' or spaces`},
		{"program not a table", map[string]string{"tend.lua": `program(42)`},
			`tend.lua:1: program: expected a name or a table of options (program "name" { ... }), got 42`},
		{"group unknown program", map[string]string{"tend.lua": "program \"web\" { command = \"x\" }\ngroup \"g\" { programs = { \"wbe\" } }"},
			`tend.lua:2: group "g": unknown program "wbe" (did you mean "web"?)`},
		{"program in two groups", map[string]string{"tend.lua": "program \"web\" { command = \"x\" }\ngroup \"a\" { programs = { \"web\" } }\ngroup \"b\" { programs = { \"web\" } }"},
			`tend.lua:3: group "b": program "web" is already in group "a"`},
		{"group named like a program", map[string]string{"tend.lua": "program \"web\" { command = \"x\" }\nprogram \"db\" { command = \"x\" }\ngroup \"web\" { programs = { \"db\" } }"},
			`tend.lua:3: group "web": name already used by program "web" at tend.lua:1 (as its own group)`},
		{"duplicate process names", map[string]string{"tend.lua": `program "web" { command = "x", numprocs = 2, process_name = function(p) return "same" end }`},
			`tend.lua:1: program "web": process "web:same" is also declared by program "web" at tend.lua:1`},
		{"daemon unknown option", map[string]string{"tend.lua": `daemon { logfiel = "x.log" }`},
			`tend.lua:1: daemon: unknown option "logfiel" (did you mean "logfile"?)`},
		{"daemon twice", map[string]string{"tend.lua": "daemon {}\ndaemon {}"},
			`tend.lua:2: daemon: already declared at tend.lua:1`},
		{"daemon http without auth", map[string]string{"tend.lua": `daemon { http = { listen = "127.0.0.1:0" } }`},
			`tend.lua:1: daemon: http needs a username and a password (or allow_no_auth = true)`},
		{"daemon loglevel", map[string]string{"tend.lua": `daemon { loglevel = "loud" }`},
			`tend.lua:1: daemon: loglevel must be one of critical, error, warn, info, debug, trace, blather, got "loud"`},
		{"include missing", map[string]string{"tend.lua": `include "nothere.lua"`},
			`tend.lua:1: include: nothere.lua: no such file`},
		{"error in included file", map[string]string{"tend.lua": `include "conf.d/*.lua"`, "conf.d/web.lua": "\nprogram \"web\" { command = \"x\", startsecs = {} }\nerror('late')"},
			"conf.d/web.lua:3: late"},
		{"type error in included file", map[string]string{"tend.lua": `include "conf.d/*.lua"`, "conf.d/web.lua": "\nprogram \"web\" { command = \"x\", startsecs = {} }"},
			`conf.d/web.lua:2: program "web": startsecs must be a number >= 0, got a table`},
		{"syntax error in included file", map[string]string{"tend.lua": `include "conf.d/*.lua"`, "conf.d/web.lua": "x = = 1"},
			`conf.d/web.lua:1: syntax error near '='`},
		{"runtime error before a later file's syntax error", map[string]string{"tend.lua": `include "conf.d/*.lua"`,
			"conf.d/a.lua": "x = 1", "conf.d/b.lua": "\nerror('first')", "conf.d/c.lua": "x = = 1"},
			"conf.d/b.lua:2: first"},
		{"syntax error in the second of three files", map[string]string{"tend.lua": `include "conf.d/*.lua"`,
			"conf.d/a.lua": "x = 1", "conf.d/b.lua": "\n\nx = = 1", "conf.d/c.lua": "x = = 2"},
			`conf.d/b.lua:3: syntax error near '='`},
		{"stopasgroup without killasgroup", map[string]string{"tend.lua": "program \"a\" {\n command = \"x\", stopasgroup = true, killasgroup = false }"},
			`tend.lua:2: program "a": killasgroup cannot be false when stopasgroup is true`},
		{"include cycle", map[string]string{"tend.lua": `include "a.lua"`, "a.lua": `include "tend.lua"`},
			`a.lua:1: include: tend.lua includes itself`},
		{"every error reported", map[string]string{"tend.lua": "program \"a\" { command = \"x\", startsecs = \"soon\", priority = \"high\" }\nprogram \"b\" { comand = \"x\" }"},
			`tend.lua:1: program "a": priority must be an integer, got "high"` + "\n" +
				`tend.lua:1: program "a": startsecs must be a number >= 0, got "soon"` + "\n" +
				`tend.lua:2: program "b": unknown option "comand" (did you mean "command"?)` + "\n" +
				`tend.lua:2: program "b": command is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadError(t, tt.files)
			if strings.HasSuffix(tt.want, ": ") {
				if !strings.HasPrefix(got, tt.want) {
					t.Errorf("error:\n got %s\nwant prefix %s", got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(context.Background(), "/nonexistent/tend.lua", Options{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/tend.lua: no such file or directory") {
		t.Fatalf("err = %v, want a no-such-file error naming the path", err)
	}
}

// TestLoadKnownUser checks that user= resolves a credential at load.
func TestLoadKnownUser(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skipf("no current user: %v", err)
	}
	_, cfg := loadSource(t, `program "web" { command = "x", user = "`+u.Username+`" }`, Options{})
	s := cfg.Specs[0]
	if s.User != u.Username || s.Credential == nil || s.Credential.Uid == 0 && u.Uid != "0" {
		t.Fatalf("user %q credential %+v, want %s resolved", s.User, s.Credential, u.Username)
	}
}
