package vm

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsAtOptionLines: an error about an option names the line the
// option is written on, not the declaration's first line, in the main
// file and in included ones; a block with an unknown option still reports
// its other errors.
func TestErrorsAtOptionLines(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"typo on line 3", map[string]string{"tend.lua": "program \"web\" {\n  command = \"sleep 1\",\n  autorestrat = true,\n}\n"},
			[]string{`tend.lua:3: program "web": unknown option "autorestrat" (did you mean "autorestart"?)`}},
		{"unknown option and a bad value", map[string]string{"tend.lua": "program \"web\" {\n  command = \"sleep 1\",\n  autorestrat = true,\n\n  startsecs = \"soon\",\n  environment = function(p) error(\"boom\") end,\n}\n"},
			[]string{`tend.lua:3: program "web": unknown option "autorestrat"`,
				`tend.lua:5: program "web": startsecs must be a number >= 0, got "soon"`,
				`tend.lua:6: program "web": environment: tend.lua:6: boom`}},
		{"table form", map[string]string{"tend.lua": "program {\n  name = \"web\",\n  command = \"x\",\n  numprocs = -1,\n}\n"},
			[]string{`tend.lua:4: program "web": numprocs must be an integer >= 0, got -1`}},
		{"in an included file", map[string]string{"tend.lua": "include \"conf.d/*.lua\"\n",
			"conf.d/web.lua": "-- web\nprogram \"web\" {\n  command = \"x\",\n  stopsignal = \"NOPE\",\n}\n"},
			[]string{`conf.d/web.lua:4: program "web": stopsignal must be a signal name`}},
		{"in a loop", map[string]string{"tend.lua": "for i = 1, 2 do\n  program(\"w\" .. i) {\n    command = \"x\",\n    umask = \"9\",\n  }\nend\n"},
			[]string{`tend.lua:4: program "w1": umask must be`, `tend.lua:4: program "w2": umask must be`}},
		{"daemon and its socket", map[string]string{"tend.lua": "daemon {\n  loglevel = \"loud\",\n  socket = {\n    path = \"/tmp/x.sock\",\n    mode = \"abc\",\n  },\n}\nprogram \"x\" { command = \"x\" }\n"},
			[]string{`tend.lua:2: daemon: loglevel must be one of`, `tend.lua:5: daemon: socket.mode must be`}},
		{"group", map[string]string{"tend.lua": "program \"a\" { command = \"x\" }\ngroup \"g\" {\n  programs = { \"b\" },\n  priority = \"high\",\n}\n"},
			[]string{`tend.lua:3: group "g": unknown program "b"`, `tend.lua:4: group "g": priority must be an integer`}},
		{"option built elsewhere stays at the declaration", map[string]string{"tend.lua": "local o = {\n  command = \"x\",\n  startsecs = -1,\n}\nprogram \"web\" (o)\n"},
			[]string{`tend.lua:5: program "web": startsecs must be a number >= 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadError(t, tt.files)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestCheckWarnings: loaded for tend check, what this machine lacks (a
// command on PATH, a directory, a log folder, a user) is a warning with
// the option's file:line, not an error; the daemon's load still refuses
// an unknown user, as supervisord does.
func TestCheckWarnings(t *testing.T) {
	src := "program \"web\" {\n" +
		"  command = \"tend-no-such-command-xyz --port 1\",\n" +
		"  directory = \"/nonexistent-tend/dir\",\n" +
		"  stdout_logfile = \"/nonexistent-tend/logs/web.log\",\n" +
		"  user = \"tend_no_such_user_xyz\",\n" +
		"}\n" +
		"program \"ok\" { command = \"sh -c true\", directory = \"/tmp\", stdout_logfile = \"/tmp/ok.log\" }\n" +
		"program \"rel\" {\n  command = \"./bin/run\",\n  directory = \"%(here)s\",\n}\n"
	path := writeConfig(t, map[string]string{"tend.lua": src})
	dir := filepath.Dir(path)
	v, cfg, err := Load(context.Background(), path, Options{Check: true})
	if err != nil {
		t.Fatalf("check load: %v", err)
	}
	v.Close()
	got := strings.ReplaceAll(strings.Join(cfg.Warnings, "\n"), dir+"/", "")
	want := []string{
		`tend.lua:2: program "web": command: can't find command 'tend-no-such-command-xyz'`,
		`tend.lua:3: program "web": directory /nonexistent-tend/dir does not exist`,
		`tend.lua:4: program "web": stdout_logfile: folder /nonexistent-tend/logs does not exist`,
		`tend.lua:5: program "web": user: invalid user name "tend_no_such_user_xyz"`,
		`tend.lua:9: program "rel": command: can't find command 'bin/run'`,
	}
	if strings.Join(want, "\n") != got {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if _, _, err := Load(context.Background(), path, Options{}); err == nil || !strings.Contains(err.Error(), `tend.lua:5: program "web": user: invalid user name`) {
		t.Errorf("daemon load: %v, want the unknown user refused at its line", err)
	}
}

// TestIncludeWarnsAndLists: an include glob that matches nothing is a
// warning (supervisord's "No file matches via include"), and the files
// included are listed, in the order they ran.
func TestIncludeWarnsAndLists(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua":       "include \"conf.d/*.lua\"\n\ninclude \"empty.d/*.lua\"\n",
		"conf.d/b.lua":   `program "b" { command = "x" }`,
		"conf.d/a.lua":   `program "a" { command = "x" }`,
		"empty.d/README": "not lua",
	})
	dir := filepath.Dir(path)
	v, cfg, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	warn := strings.ReplaceAll(strings.Join(cfg.Warnings, "\n"), dir+"/", "")
	if warn != `tend.lua:3: include: no file matches "empty.d/*.lua"` {
		t.Errorf("warnings = %q", warn)
	}
	inc := strings.ReplaceAll(strings.Join(cfg.Included, " "), dir+"/", "")
	if inc != "conf.d/a.lua conf.d/b.lua" {
		t.Errorf("included = %q", inc)
	}
	var b strings.Builder
	if err := FormatCheck(&b, cfg); err != nil {
		t.Fatal(err)
	}
	if out := strings.ReplaceAll(b.String(), dir+"/", ""); !strings.HasPrefix(out, "tend.lua: 2 processes\nincluded conf.d/a.lua\nincluded conf.d/b.lua\n\n") {
		t.Errorf("check output:\n%s", out)
	}
}
