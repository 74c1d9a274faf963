package dropin

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeConf(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPersonality(t *testing.T) {
	for argv0, want := range map[string]string{
		"supervisord": SupervisordName, "/usr/bin/supervisorctl": SupervisorctlName, "./tend": "",
		"/usr/local/bin/supervisord.real": "", "tend": "",
	} {
		if got := Personality(argv0); got != want {
			t.Errorf("Personality(%q) = %q, want %q", argv0, got, want)
		}
	}
}

// TestSupervisord reads supervisord command lines as Python's getopt does.
func TestSupervisord(t *testing.T) {
	conf := writeConf(t, "supervisord.conf", "[supervisord]\nlogfile=/tmp/x.log\n")
	fg := writeConf(t, "fg.conf", "[supervisord]\nnodaemon = true\n")
	lua := writeConf(t, "tend.lua", "daemon {}\n")
	tests := []struct {
		name string
		args []string
		want Daemon
	}{
		{"daemonizes", []string{"-c", conf}, Daemon{Config: conf}},
		{"-n", []string{"-n", "-c", conf}, Daemon{Config: conf, NoDaemon: true}},
		{"grouped", []string{"-nc", conf}, Daemon{Config: conf, NoDaemon: true}},
		{"attached value", []string{"-c" + conf, "--nodaemon"}, Daemon{Config: conf, NoDaemon: true}},
		{"long with =", []string{"--configuration=" + conf}, Daemon{Config: conf}},
		{"long prefix", []string{"--conf", conf, "--nod"}, Daemon{Config: conf, NoDaemon: true}},
		{"nodaemon in the config", []string{"-c", fg}, Daemon{Config: fg, NoDaemon: true}},
		{"overrides", []string{"-c", conf, "-l", "/l", "-e", "debug", "-j", "/p", "-i", "id", "-q", "/q", "-d", "/d",
			"-u", "www", "-m", "077", "-y", "1MB", "-z", "3", "-a", "2048", "-k"},
			Daemon{Config: conf, Overrides: map[string]string{"logfile": "/l", "loglevel": "debug", "pidfile": "/p",
				"identifier": "id", "childlogdir": "/q", "directory": "/d", "user": "www", "umask": "077",
				"logfile_maxbytes": "1MB", "logfile_backups": "3", "minfds": "2048", "nocleanup": "true"}}},
		{"ignored", []string{"-c", conf, "-t", "--minprocs", "300", "--profile_options=cumulative"},
			Daemon{Config: conf, Warnings: []string{
				"--strip_ansi is ignored: tend writes child output to its logs as it comes",
				"--minprocs is ignored: tend has no process-count limit to raise",
				"--profile_options is ignored: tend is not a Python program to profile"}}},
		{"silent without nodaemon", []string{"-s", "-c", conf}, Daemon{Config: conf, Silent: true,
			Warnings: []string{"--silent is ignored: it only matters with --nodaemon"}}},
		{"silent", []string{"-sn", "-c", conf}, Daemon{Config: conf, Silent: true, NoDaemon: true}},
		{"a tend config", []string{"-c", lua, "-l", "/l"}, Daemon{Config: lua, Overrides: map[string]string{"logfile": "/l"},
			Warnings: []string{lua + " is a tend config: the [supervisord] flags are ignored (set them in daemon{})"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, a := Supervisord("/usr/bin/supervisord", tt.args, "v1")
			if a != nil {
				t.Fatalf("answer %+v", a)
			}
			if tt.want.Overrides == nil {
				tt.want.Overrides = map[string]string{}
			}
			if !reflect.DeepEqual(*d, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *d, tt.want)
			}
		})
	}
}

func TestSupervisordAnswers(t *testing.T) {
	conf := writeConf(t, "supervisord.conf", "[supervisord]\n")
	tests := []struct {
		args       []string
		out, errPf string
		code       int
	}{
		{[]string{"-v"}, "v1\n", "", 0},
		{[]string{"--version"}, "v1\n", "", 0},
		{[]string{"-h"}, "sd -- run tend", "", 0},
		{[]string{"-x"}, "", "Error: option -x not recognized\nFor help, use sd -h\n", 2},
		{[]string{"--c", conf}, "", "Error: option --c not a unique prefix\n", 2},
		{[]string{"--nodaemon=yes"}, "", "Error: option --nodaemon must not have an argument\n", 2},
		{[]string{"-c"}, "", "Error: option -c requires argument\n", 2},
		{[]string{"-c", conf, "more"}, "", "Error: positional arguments are not supported: [\"more\"]\n", 2},
		{[]string{"-c", "/nonexistent.conf"}, "", "Error: could not find config file /nonexistent.conf\n", 2},
	}
	for _, tt := range tests {
		d, a := Supervisord("sd", tt.args, "v1")
		if a == nil {
			t.Errorf("%q: no answer, daemon %+v", tt.args, d)
			continue
		}
		if !strings.HasPrefix(a.Stdout, tt.out) || !strings.HasPrefix(a.Stderr, tt.errPf) || a.Code != tt.code || (tt.out == "" && a.Stdout != "") {
			t.Errorf("%q: answer %+v, want stdout %q stderr %q code %d", tt.args, a, tt.out, tt.errPf, tt.code)
		}
	}
}

// TestSupervisordSearchPaths finds supervisord.conf in the working
// directory when -c is not given, and says where it looked otherwise.
func TestSupervisordSearchPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, a := Supervisord("/nonexistent/bin/supervisord", nil, "v1")
	if a == nil || a.Code != 2 || !strings.Contains(a.Stderr, "No config file found at default paths (/nonexistent/etc/supervisord.conf, /nonexistent/supervisord.conf, supervisord.conf, etc/supervisord.conf, /etc/supervisord.conf, /etc/supervisor/supervisord.conf)") {
		if _, err := os.Stat("/etc/supervisor/supervisord.conf"); err != nil {
			t.Errorf("answer %+v", a)
		}
	}
	os.WriteFile(filepath.Join(dir, "supervisord.conf"), []byte("[supervisord]\n"), 0o644)
	d, a := Supervisord("/nonexistent/bin/supervisord", nil, "v1")
	if a != nil || d.Config != "supervisord.conf" {
		t.Errorf("got %+v %+v, want ./supervisord.conf", d, a)
	}
}

func TestSupervisorctl(t *testing.T) {
	conf := writeConf(t, "supervisord.conf", "[supervisorctl]\n")
	tests := []struct {
		name string
		args []string
		want [][]string
	}{
		{"command", []string{"-c", conf, "status", "-x"}, [][]string{{"-c", conf, "status", "-x"}}},
		{"credentials", []string{"-c", conf, "-u", "me", "-p", "pw", "-s", "http://h:1", "stop", "all"},
			[][]string{{"-u", "me", "-p", "pw", "-c", conf, "-s", "http://h:1", "stop", "all"}}},
		{"interactive", []string{"-c", conf}, [][]string{{"-c", conf, "repl"}}},
		{"-i and a command", []string{"-ic", conf, "-r", "/h", "status"},
			[][]string{{"-c", conf, "status"}, {"-c", conf, "repl", "--history", "/h"}}},
		{"long options", []string{"--serverurl=unix:///x.sock", "--username", "u", "--conf", conf, "version"},
			[][]string{{"-u", "u", "-c", conf, "-s", "unix:///x.sock", "version"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // no ./supervisord.conf
			c, a := Supervisorctl("supervisorctl", tt.args)
			if a != nil {
				t.Fatalf("answer %+v", a)
			}
			if !reflect.DeepEqual(c.Runs, tt.want) {
				t.Errorf("runs %q, want %q", c.Runs, tt.want)
			}
		})
	}
}
