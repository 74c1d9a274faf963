package vm

import (
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
