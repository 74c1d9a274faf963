package supervisordconf_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/vm/supervisordconf"
)

func TestIsINI(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"[supervisord]\nlogfile=x\n", true},
		{"; comment\n# other\n\n  [program:x]\ncommand=true\n", true},
		{"[include]", true},
		{"program \"x\" { command = \"true\" }\n", false},
		{"-- [program:x]\nprogram \"x\" {}\n", false},
		{"[[long string]]", false},
		{"[==[x]==]", false},
		{"#!/usr/bin/env tend\ndaemon {}\n", false},
		{"", false},
		{"[]\n", false},
	}
	for _, tt := range tests {
		if got := supervisordconf.IsINI([]byte(tt.src)); got != tt.want {
			t.Errorf("IsINI(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRead checks the in-memory conversion: includes merged in sorted
// order relative to the main file, %(here)s per file, overrides, and each
// Lua line mapped to its INI line.
func TestRead(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.conf":    "[supervisord]\nlogfile=%(here)s/main.log\n\n[include]\nfiles=conf.d/*.ini none/*.ini\n\n[program:a]\ncommand=sleep 1\n",
		"conf.d/2.ini": "[program:c]\n\ncommand=echo %(here)s\n",
		"conf.d/1.ini": "[program:b]\ncommand=sleep 2\n[program:a]\nstartsecs=5\n[include]\nfiles=x\n",
	})
	main := filepath.Join(dir, "main.conf")
	conf, err := supervisordconf.Read(main, map[string]string{"loglevel": "debug"})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{main, filepath.Join(dir, "conf.d/1.ini"), filepath.Join(dir, "conf.d/2.ini")}
	if strings.Join(conf.Files, ",") != strings.Join(wantFiles, ",") {
		t.Errorf("Files = %q, want %q", conf.Files, wantFiles)
	}
	for _, want := range []string{
		`logfile  = "` + dir + `/main.log"`,
		`loglevel = "debug"`,
		`command = "echo ` + dir + `/conf.d"`,
	} {
		if !strings.Contains(conf.Lua, want) {
			t.Errorf("Lua lacks %q:\n%s", want, conf.Lua)
		}
	}
	if strings.Contains(conf.Lua, "include") && strings.Contains(conf.Lua, "include \"") {
		t.Errorf("Lua has include lines; the files were merged:\n%s", conf.Lua)
	}
	// Each option's Lua line maps to its INI line.
	lines := strings.Split(conf.Lua, "\n")
	wantAt := map[string]string{
		`  logfile  = "`:           main + ":2",
		`  loglevel = "debug"`:     "supervisord's command line",
		`program "a" {`:            main + ":7",
		`  command   = "sleep 1"`:  main + ":8",
		`  startsecs = 5`:          filepath.Join(dir, "conf.d/1.ini") + ":4",
		`program "c" {`:            filepath.Join(dir, "conf.d/2.ini") + ":1",
		`  command = "echo ` + dir: filepath.Join(dir, "conf.d/2.ini") + ":3",
	}
	for prefix, want := range wantAt {
		found := false
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				found = true
				if p, _ := conf.At(i + 1); p.String() != want {
					t.Errorf("line %d %q maps to %s, want %s", i+1, l, p, want)
				}
			}
		}
		if !found {
			t.Errorf("no Lua line starts with %q:\n%s", prefix, conf.Lua)
		}
	}
	var warnings []string
	for _, w := range conf.Warnings {
		warnings = append(warnings, w.String())
	}
	for _, want := range []string{
		main + `:5: No file matches via include "` + dir + `/none/*.ini"`,
		filepath.Join(dir, "conf.d/1.ini") + ":5: [include] in an included file is ignored",
	} {
		if !strings.Contains(strings.Join(warnings, "\n"), want) {
			t.Errorf("warnings %q lack %q", warnings, want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"nofiles.conf": "[supervisord]\n[include]\n",
		"badinc.conf":  "[include]\nfiles=bad.ini\n",
		"bad.ini":      "[program:x]\ncommand=true\noops\n",
	})
	_, err := supervisordconf.Read(filepath.Join(dir, "nofiles.conf"), nil)
	if want := filepath.Join(dir, "nofiles.conf") + ":2: .ini file has [include] section, but no files setting"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	_, err = supervisordconf.Read(filepath.Join(dir, "badinc.conf"), nil)
	var se *supervisordconf.SyntaxError
	if !errors.As(err, &se) || se.File != filepath.Join(dir, "bad.ini") || se.Line != 3 {
		t.Errorf("err = %v, want a syntax error at bad.ini:3", err)
	}
}

func TestReadClient(t *testing.T) {
	t.Setenv("DROPIN_USER", "alice")
	dir := writeFiles(t, map[string]string{
		"full.conf": "[unix_http_server]\nfile=%(here)s/s.sock\n[inet_http_server]\nport=*:9001\nusername=u\npassword=p\n" +
			"[supervisorctl]\nserverurl=unix://rel.sock\nusername=%(ENV_DROPIN_USER)s\npassword=pw\nprompt=mine\n",
		"bare.conf": "[supervisorctl]\n",
		"none.conf": "[supervisord]\n",
	})
	c, err := supervisordconf.ReadClient(filepath.Join(dir, "full.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Socket != dir+"/s.sock" || c.HTTP == nil || *c.HTTP != (supervisordconf.ClientHTTP{Listen: ":9001", Username: "u", Password: "p"}) {
		t.Errorf("client = %+v %+v", c, c.HTTP)
	}
	cwd, _ := os.Getwd()
	want := supervisordconf.Ctl{ServerURL: "unix://" + filepath.Join(cwd, "rel.sock"), Username: "alice", Password: "pw", Prompt: "mine"}
	if c.Ctl == nil || *c.Ctl != want {
		t.Errorf("ctl = %+v, want %+v", c.Ctl, want)
	}
	c, _ = supervisordconf.ReadClient(filepath.Join(dir, "bare.conf"))
	if c.Ctl == nil || *c.Ctl != (supervisordconf.Ctl{ServerURL: "http://localhost:9001", Prompt: "supervisor"}) {
		t.Errorf("bare [supervisorctl] = %+v, want supervisorctl's defaults", c.Ctl)
	}
	c, _ = supervisordconf.ReadClient(filepath.Join(dir, "none.conf"))
	if c.Ctl != nil || c.Socket != "" || c.HTTP != nil {
		t.Errorf("no client sections = %+v", c)
	}
}
