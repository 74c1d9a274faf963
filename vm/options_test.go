package vm

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// TestProgramOptions checks that every option reaches the Spec.
func TestProgramOptions(t *testing.T) {
	t.Setenv("TEND_TEST_HOME", "/srv/app")
	_, cfg := loadSource(t, `
program "web" {
  command = [[%(ENV_TEND_TEST_HOME)s/bin/web --port %(ENV_PORT)s -n %(process_num)d \
    --name '%(program_name)s %(group_name)s']],
  process_name = "%(program_name)s_%(process_num)02d",
  numprocs = 2, numprocs_start = 3, priority = 10,
  autostart = false, startsecs = 2.5, startretries = math.huge, autorestart = true,
  exitcodes = { 0, 2 }, stopsignal = "INT", stopwaitsecs = 3,
  stopasgroup = true, directory = "%(here)s/run", umask = "027",
  environment = { PORT = 8080, DEBUG = true },
  redirect_stderr = true, serverurl = "unix:///x.sock",
  stdout_logfile = "/var/log/%(program_name)s-%(process_num)d.log",
  stdout_logfile_maxbytes = "1KB", stdout_logfile_backups = 0,
  stdout_capture_maxbytes = 1024, stdout_events_enabled = true, stdout_syslog = true,
  stderr_logfile = "none", stderr_logfile_maxbytes = 0, stderr_logfile_backups = 2,
  hook_timeout = 0.25,
  on_exit = function(p, e) end,
}`, Options{})
	if len(cfg.Specs) != 2 {
		t.Fatalf("got %d specs, want 2", len(cfg.Specs))
	}
	here := filepath.Dir(cfg.Path)
	s := cfg.Specs[0]
	want := supervisor.Spec{
		Name: "web_03", Program: "web", Group: "web", Num: 3, NumProcs: 2, NumProcsStart: 3,
		Command:     []string{"/srv/app/bin/web", "--port", "8080", "-n", "3", "--name", "web web"},
		CommandLine: "/srv/app/bin/web --port 8080 -n 3 \\\n    --name 'web web'",
		Priority:    10, GroupPriority: 10, AutoStart: false, StartSecs: 2500 * time.Millisecond,
		StartRetries: math.MaxInt, AutoRestart: supervisor.RestartAlways, ExitCodes: []int{0, 2},
		StopSignal: syscall.SIGINT, StopWait: 3 * time.Second, StopAsGroup: true, KillAsGroup: true,
		Directory: here + "/run", Umask: 0o27,
		Environment:    map[string]string{"PORT": "8080", "DEBUG": "true"},
		RedirectStderr: true, ServerURL: "unix:///x.sock",
		Stdout:      supervisor.LogSpec{Path: "/var/log/web-3.log", MaxBytes: 1024, Backups: 0, CaptureMaxBytes: 1024, EventsEnabled: true, Syslog: true},
		Stderr:      supervisor.LogSpec{Path: supervisor.LogNone, MaxBytes: 0, Backups: 2},
		HookTimeout: 250 * time.Millisecond, Source: cfg.Path + ":2",
	}
	if s.Policy == nil {
		t.Fatal("Policy is nil for a program with on_exit")
	}
	s.Policy = nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("spec:\n got %+v\nwant %+v", s, want)
	}
	if n := cfg.Specs[1].Name; n != "web_04" {
		t.Errorf("second instance is %q, want web_04", n)
	}
}

// TestDefaults checks that an empty program gets supervisor.NewSpec's
// defaults and that daemon{} defaults are filled.
func TestDefaults(t *testing.T) {
	_, cfg := loadSource(t, `program "x" { command = {"sleep", "1"} }`, Options{HookTimeout: 2 * time.Second})
	s := cfg.Specs[0]
	want := supervisor.NewSpec("x", "sleep", "1")
	want.CommandLine, want.Source, want.HookTimeout = "sleep 1", cfg.Path+":1", 2*time.Second
	if !reflect.DeepEqual(s, want) {
		t.Errorf("spec:\n got %+v\nwant %+v", s, want)
	}
	d := cfg.Daemon
	cwd, _ := os.Getwd()
	if d.Logfile != filepath.Join(cwd, "tend.log") || d.LogfileMaxBytes != 50<<20 || d.LogfileBackups != 10 ||
		d.LogLevel != "info" || d.Socket.Mode != 0o700 || d.HTTP != nil || !d.Subreaper || d.HookTimeout != 2*time.Second {
		t.Errorf("daemon defaults: %+v", d)
	}
}

func TestDaemonOptions(t *testing.T) {
	t.Setenv("TEND_TEST_D", "dee")
	_, cfg := loadSource(t, `daemon {
  logfile = "%(here)s/d.log", logfile_maxbytes = "1MB", logfile_backups = 2, loglevel = "DEBUG",
  pidfile = "/run/x.pid", childlogdir = "/var/log/x", directory = "/", umask = "077",
  identifier = "me", nocleanup = true, minfds = 4096, environment = "A=1,B='x y',C=%(here)s/c,D=%(ENV_TEND_TEST_D)s",
  socket = { path = "%(here)s/x.sock", mode = "0770", owner = "root" },
  http = { listen = "127.0.0.1:9001", username = "u", password = "p" },
  hook_timeout = 0.5, subreaper = false, orphans = "adopt", load_timeout = 2.5, lua_memory_limit = "32MB",
  container = true, exit_when_done = true, shutdown_timeout = 5, exit_codes = { [143] = 0, [3] = 4 },
  forward = { USR1 = "web:*", [12] = "all" }, rewrite = { TERM = "QUIT" }, health = { listen = "0.0.0.0:8081" },
}`, Options{})
	here := filepath.Dir(cfg.Path)
	want := Daemon{
		Logfile: here + "/d.log", LogfileMaxBytes: 1 << 20, LogfileBackups: 2, LogLevel: "debug",
		Pidfile: "/run/x.pid", ChildLogDir: "/var/log/x", Directory: "/", Umask: 0o77, Identifier: "me",
		Nocleanup: true, Minfds: 4096, Environment: map[string]string{"A": "1", "B": "x y", "C": here + "/c", "D": "dee"},
		Socket:      SocketConfig{Path: here + "/x.sock", Mode: 0o770, Owner: "root"},
		HTTP:        &HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "p"},
		HookTimeout: 500 * time.Millisecond, Subreaper: false, Orphans: supervisor.OrphansAdopt,
		LoadTimeout: 2500 * time.Millisecond, LuaMemoryLimit: 32 << 20,
		Container: true, ExitWhenDone: true, ShutdownTimeout: 5 * time.Second,
		ExitCodes: map[int]int{143: 0, 3: 4},
		Forward:   map[syscall.Signal]string{syscall.SIGUSR1: "web:*", syscall.SIGUSR2: "all"},
		Rewrite:   map[syscall.Signal]syscall.Signal{syscall.SIGTERM: syscall.SIGQUIT},
		Health:    &HealthConfig{Listen: "0.0.0.0:8081"},
	}
	if !reflect.DeepEqual(cfg.Daemon, want) {
		t.Errorf("daemon:\n got %+v\nwant %+v", cfg.Daemon, want)
	}
	if _, def := loadSource(t, `daemon {}`, Options{}); def.Daemon.Orphans != supervisor.OrphansStop {
		t.Errorf("default orphans = %q, want stop", def.Daemon.Orphans)
	}
	msg := loadError(t, map[string]string{"tend.lua": `daemon { orphans = "keep" }`})
	if !strings.Contains(msg, `tend.lua:1: daemon: orphans must be "stop" or "adopt", got "keep"`) {
		t.Errorf("bad orphans: %s", msg)
	}
}

// TestFunctionOptions checks per-instance functions and the p they get.
func TestFunctionOptions(t *testing.T) {
	_, cfg := loadSource(t, `
calls = 0
program "w" {
  numprocs = 3,
  process_name = function(p) return "w" .. p.num end,
  command = function(p) calls = calls + 1; return { "run", p.name, p.program, p.group, tostring(p.numprocs) } end,
  environment = function(p) return { PORT = tostring(8000 + p.num) } end,
  priority = function(p) return 100 + p.num end,
}
group "g" { programs = { "w" }, priority = 7 }`, Options{})
	if len(cfg.Specs) != 3 {
		t.Fatalf("got %d specs", len(cfg.Specs))
	}
	for i, s := range cfg.Specs {
		name := "w" + string(rune('0'+i))
		if s.Name != name || s.Group != "g" || s.GroupPriority != 7 || s.Priority != 100+i ||
			!reflect.DeepEqual(s.Command, []string{"run", name, "w", "g", "3"}) ||
			s.Environment["PORT"] != "800"+string(rune('0'+i)) {
			t.Errorf("instance %d: %+v", i, s)
		}
	}
	if len(cfg.Groups) != 1 || cfg.Groups[0].Name != "g" || cfg.Groups[0].Priority != 7 {
		t.Errorf("groups = %+v", cfg.Groups)
	}
}

func TestEnvironmentString(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{`A="1",B="x,y"`, map[string]string{"A": "1", "B": "x,y"}},
		{`C='single q',D=plain`, map[string]string{"C": "single q", "D": "plain"}},
		{`K = v , L= "w"`, map[string]string{"K": "v", "L": "w"}},
		{`A=1,`, map[string]string{"A": "1"}},
		{`A=""`, map[string]string{"A": ""}},
		{`A=/usr/bin:/bin`, map[string]string{"A": "/usr/bin:/bin"}},
		{`A=1,B=2,A=3`, map[string]string{"A": "3", "B": "2"}},
		{`A=1;B=2`, map[string]string{"A": "1", "B": "2"}},
		{`A=a=b`, nil},
		{`A=foo@bar`, nil},
		{`X="a"b,Y=1`, nil},
		{`A=1 B=2`, nil},
		{`A="open`, nil},
	}
	for _, tt := range tests {
		got, err := parseEnvString(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("%s: got %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestIncludeAndHere checks include globs relative to the including file
// and %(here)s naming the declaring file's folder.
func TestIncludeAndHere(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua":         `include "conf.d/*.lua"` + "\n" + `program "main" { command = "%(here)s/main" }`,
		"conf.d/a.lua":     `program "a" { command = "%(here)s/a" }` + "\n" + `include "sub/*.lua"`,
		"conf.d/sub/b.lua": `program "b" { command = "%(here)s/b" }`,
		"conf.d/skip.txt":  `not lua`,
	})
	v, cfg, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	dir := filepath.Dir(path)
	want := map[string]string{"a": dir + "/conf.d/a", "b": dir + "/conf.d/sub/b", "main": dir + "/main"}
	if len(cfg.Specs) != 3 {
		t.Fatalf("specs: %+v", cfg.Specs)
	}
	for _, s := range cfg.Specs {
		if s.Command[0] != want[s.Name] {
			t.Errorf("%s: command %q, want %q", s.Name, s.Command[0], want[s.Name])
		}
	}
	if src := cfg.Specs[0].Source; src != dir+"/conf.d/a.lua:1" {
		t.Errorf("source of a = %q", src)
	}
}

// Included files are compiled together but run one after another in glob
// order, each seeing what the previous ones did.
func TestIncludeRunsInOrder(t *testing.T) {
	files := map[string]string{"tend.lua": "order = {}\n" + `include "conf.d/*.lua"` + "\n" +
		`program "main" { command = "echo " .. table.concat(order, " ") }`}
	var want []string
	for i := range 12 {
		n := fmt.Sprintf("%02d", i)
		files["conf.d/"+n+".lua"] = fmt.Sprintf("assert(#order == %d)\norder[#order + 1] = %q", i, n)
		want = append(want, n)
	}
	v, cfg, err := Load(context.Background(), writeConfig(t, files), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got := strings.Join(cfg.Specs[0].Command[1:], " "); got != strings.Join(want, " ") {
		t.Errorf("files ran in order %q, want %q", got, strings.Join(want, " "))
	}
}

func TestRequireConfigModule(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua":       `local common = require "lib.common"` + "\n" + `program "x" { command = common.cmd }`,
		"lib/common.lua": `return { cmd = "sleep 5" }`,
	})
	v, cfg, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got := cfg.Specs[0].Command; !reflect.DeepEqual(got, []string{"sleep", "5"}) {
		t.Errorf("command = %q", got)
	}
}

// TestResolveScale re-resolves a program with a new numprocs.
func TestResolveScale(t *testing.T) {
	v, _ := loadSource(t, `program "w" { command = "sleep 9", numprocs = 1, process_name = "w_%(process_num)d",
  environment = function(p) return { PORT = tostring(9000 + p.num) } end }`, Options{})
	specs, err := v.Resolve(context.Background(), "w", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 || specs[2].Name != "w_2" || specs[2].NumProcs != 3 || specs[2].Environment["PORT"] != "9002" {
		t.Fatalf("specs = %+v", specs)
	}
	if _, err := v.Resolve(context.Background(), "nope", 2); err == nil || err.Error() != `resolve nope: unknown program "nope"` {
		t.Errorf("unknown program: err = %v", err)
	}
}

// An environment string is expanded before it is parsed, as supervisord
// does, so expansions need no quotes; a table's values are expanded too.
func TestEnvironmentExpansion(t *testing.T) {
	t.Setenv("TEND_TEST_PATH", "/usr/bin:/bin")
	_, cfg := loadSource(t, `
program "s" { command = "x", environment = "PATH=%(ENV_TEND_TEST_PATH)s:/opt/bin,WHO=%(program_name)s_%(process_num)d" }
program "t" { command = "x", environment = { PATH = "%(ENV_TEND_TEST_PATH)s:/opt/bin", WHO = "%(program_name)s" } }`, Options{})
	want := map[string]map[string]string{
		"s": {"PATH": "/usr/bin:/bin:/opt/bin", "WHO": "s_0"},
		"t": {"PATH": "/usr/bin:/bin:/opt/bin", "WHO": "t"},
	}
	for _, s := range cfg.Specs {
		if !reflect.DeepEqual(s.Environment, want[s.Name]) {
			t.Errorf("%s: environment %v, want %v", s.Name, s.Environment, want[s.Name])
		}
	}
}

// TestContainerOptionErrors: each bad container-mode value gets an error
// naming the option and what it takes.
func TestContainerOptionErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`daemon { exit_codes = { [143] = 300 } }`, "exit_codes values must be an integer from 0 to 255, got 300"},
		{`daemon { exit_codes = 3 }`, "exit_codes must be a table"},
		{`daemon { forward = { TERM = "web" } }`, "forward: SIGTERM is tend's own"},
		{`daemon { forward = { NOPE = "web" } }`, "forward key must be a signal name"},
		{`daemon { forward = { USR1 = "" } }`, "forward.USR1 needs a target"},
		{`daemon { rewrite = { KILL = "TERM" } }`, "rewrite: SIGKILL cannot be caught"},
		{`daemon { rewrite = { TERM = "BOGUS" } }`, "rewrite.TERM must be a signal name"},
		{`daemon { health = { port = 1 } }`, `health: unknown option "port"`},
		{`daemon { health = {} }`, "health.listen is required"},
		{`daemon { shutdown_timeout = -1 }`, "shutdown_timeout"},
	}
	for _, c := range cases {
		if got := loadError(t, map[string]string{"tend.lua": c.src}); !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
}

// TestContainerProgramOptions: essential and log_prefix reach the spec;
// the prefix's %(program_name)s and %(process_num)s are expanded by the
// loader, %(stream)s and %(time)s are kept for the engine, and an unknown
// name is an error.
func TestContainerProgramOptions(t *testing.T) {
	_, cfg := loadSource(t, `program "web" { command = "x", numprocs = 2, process_name = "web%(process_num)s",
  essential = true, log_prefix = "%(program_name)s-%(process_num)s %(group_name)s %(stream)s %(time)s | " }`, Options{})
	for i, s := range cfg.Specs {
		want := fmt.Sprintf("web-%d web %%(stream)s %%(time)s | ", i)
		if !s.Essential || s.LogPrefix != want {
			t.Errorf("%s: essential %v, log_prefix %q, want true and %q", s.Name, s.Essential, s.LogPrefix, want)
		}
	}
	if got := loadError(t, map[string]string{"tend.lua": `program "p" { command = "x", log_prefix = "%(nope)s" }`}); !strings.Contains(got, "log_prefix") {
		t.Errorf("unknown name in log_prefix: %s", got)
	}
}
