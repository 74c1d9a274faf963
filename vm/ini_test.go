package vm

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLoadINI loads supervisord configs: recognised by content (the file
// is even named tend.lua here), converted in memory, with positions and
// errors naming the INI file and line.
func TestLoadINI(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua":    "; supervisord\n[supervisord]\nloglevel=warn\n\n[include]\nfiles=more/*.conf\n\n[program:web]\ncommand=sleep 1\n",
		"more/w.conf": "[program:worker]\ncommand=echo %(here)s\nprocess_name=%(program_name)s_%(process_num)d\nnumprocs=2\n",
	})
	dir := filepath.Dir(path)
	v, cfg, err := Load(context.Background(), path, Options{Supervisord: map[string]string{"pidfile": "/run/x.pid"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if cfg.INI == nil || len(cfg.INI.Files) != 2 {
		t.Fatalf("INI = %+v, want two files", cfg.INI)
	}
	if cfg.Daemon.LogLevel != "warn" || cfg.Daemon.Pidfile != "/run/x.pid" {
		t.Errorf("daemon = loglevel %q pidfile %q, want warn and the command line's /run/x.pid", cfg.Daemon.LogLevel, cfg.Daemon.Pidfile)
	}
	got := map[string]string{}
	for _, s := range cfg.Specs {
		got[s.Namespec()] = s.Source + " " + strings.Join(s.Command, " ")
	}
	want := map[string]string{
		"web":             path + ":8 sleep 1",
		"worker:worker_0": filepath.Join(dir, "more/w.conf") + ":1 echo " + filepath.Join(dir, "more"),
		"worker:worker_1": filepath.Join(dir, "more/w.conf") + ":1 echo " + filepath.Join(dir, "more"),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("specs = %v", got)
	}
	// tend scale resolves the program again: still located in the INI.
	specs, err := v.Resolve(context.Background(), "worker", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 || specs[2].Source != filepath.Join(dir, "more/w.conf")+":1" {
		t.Errorf("scaled specs = %d, last at %q", len(specs), specs[len(specs)-1].Source)
	}
}

func TestLoadINIErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // a regexp, after the temp folder is removed
	}{
		{"ini syntax", map[string]string{"tend.lua": "[program:x]\ncommand=true\nnot an option\n"},
			regexp.QuoteMeta(`tend.lua:3: in [program:x]: not a section, an option (key = value) or a comment: "not an option"`)},
		{"bad value in an included file", map[string]string{
			"tend.lua": "[include]\nfiles=x.ini\n[program:a]\ncommand=true\n",
			"x.ini":    "[program:b]\n\ncommand=true\nstartsecs=soon\n"},
			// The option's line once Lua errors name the option, the
			// section's while they name the block.
			`x\.ini:(1|4): program "b": startsecs must be a number >= 0, got "soon"`},
		{"missing command", map[string]string{"tend.lua": "[supervisord]\n\n[program:x]\nautostart=true\n"},
			`tend\.lua:(3|4): program "x": command is required`},
		{"include without files", map[string]string{"tend.lua": "[supervisord]\n[include]\n"},
			regexp.QuoteMeta(`tend.lua:2: .ini file has [include] section, but no files setting`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadError(t, tt.files)
			if !regexp.MustCompile("^" + tt.want + "$").MatchString(got) {
				t.Errorf("error:\n%s\nwant (regexp):\n%s", got, tt.want)
			}
		})
	}
}

// TestReadDialInfoINI reads the client side of a supervisord config.
func TestReadDialInfoINI(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua": "[unix_http_server]\nfile=%(here)s/x.sock\n[inet_http_server]\nport=127.0.0.1:9001\nusername=u\npassword=p\n[supervisorctl]\nserverurl=http://127.0.0.1:9001\n",
	})
	info, err := ReadDialInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Socket != filepath.Join(filepath.Dir(path), "x.sock") || info.HTTP == nil || info.HTTP.Listen != "127.0.0.1:9001" ||
		info.Ctl == nil || info.Ctl.ServerURL != "http://127.0.0.1:9001" || info.Ctl.Prompt != "supervisor" {
		t.Errorf("info = %+v http %+v ctl %+v", info, info.HTTP, info.Ctl)
	}
	// A Lua config has no [supervisorctl].
	lua := writeConfig(t, map[string]string{"tend.lua": `daemon { socket = { path = "/tmp/y.sock" } }`})
	if info, err := ReadDialInfo(lua); err != nil || info.Ctl != nil || info.Socket != "/tmp/y.sock" {
		t.Errorf("lua info = %+v, %v", info, err)
	}
}
