package supervisordconf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/vm"
	"github.com/tend-sh/tend/vm/supervisordconf"
)

// copyDir copies a testdata folder into a temp folder, so that the
// converted files can be written next to the originals (as a user would).
func copyDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// importTo converts a supervisord config and writes the result as dest.
func importTo(t *testing.T, conf, dest string) []string {
	t.Helper()
	res, err := supervisordconf.ImportFile(conf, "test")
	if err != nil {
		t.Fatalf("import %s: %v", conf, err)
	}
	if err := os.WriteFile(dest, []byte(res.Lua), 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.String())
	}
	return warnings
}

// TestImportLoads imports a supervisord.conf using every option, loads the
// result with tend's real loader and checks that each process is what
// supervisord would run.
func TestImportLoads(t *testing.T) {
	dir := copyDir(t, "testdata/full")
	conf := filepath.Join(dir, "supervisord.conf")
	warnings := importTo(t, conf, filepath.Join(dir, "tend.lua"))
	wantWarnings := []string{
		conf + ":94: [include]: the included files are INI: convert each one: for f in " + dir + "/conf.d/*.conf; do tend import \"$f\" > \"${f%.conf}.lua\"; done",
		conf + ": %(here)s now means the folder of the tend config: write it next to " + conf + " (" + dir + ") or replace %(here)s",
	}
	if !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	importTo(t, filepath.Join(dir, "conf.d/extra.conf"), filepath.Join(dir, "conf.d/extra.lua"))

	v, cfg, err := vm.Load(context.Background(), filepath.Join(dir, "tend.lua"), vm.Options{})
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "tend.lua"))
		t.Fatalf("load the imported config: %v\n%s", err, b)
	}
	defer v.Close()

	t.Run("daemon", func(t *testing.T) { checkDaemon(t, dir, cfg.Daemon) })
	t.Run("groups", func(t *testing.T) {
		want := []supervisor.GroupSpec{{Name: "pool", Programs: []string{"web", "worker"}, Priority: 10}}
		if !reflect.DeepEqual(cfg.Groups, want) {
			t.Errorf("groups = %+v, want %+v", cfg.Groups, want)
		}
	})
	got := map[string]supervisor.Spec{}
	var names []string
	for _, s := range cfg.Specs {
		got[s.Namespec()] = s
		names = append(names, s.Namespec())
	}
	want := wantSpecs(t, dir)
	if len(names) != len(want) {
		t.Errorf("processes %v, want %d", names, len(want))
	}
	for _, w := range want {
		t.Run(w.Namespec(), func(t *testing.T) {
			s, ok := got[w.Namespec()]
			if !ok {
				t.Fatalf("no process %s among %v", w.Namespec(), names)
			}
			s.Source, s.Policy = "", nil
			if !reflect.DeepEqual(s, w) {
				t.Errorf("spec:\n got %+v\nwant %+v", s, w)
			}
		})
	}
}

func checkDaemon(t *testing.T, dir string, d vm.Daemon) {
	want := d // fields tend sets itself (hook timeout, subreaper) stay
	want.Logfile, want.LogfileMaxBytes, want.LogfileBackups = dir+"/supervisord.log", 1<<20, 3
	want.LogLevel, want.Pidfile, want.ChildLogDir, want.Directory = "debug", dir+"/supervisord.pid", dir+"/logs", dir
	want.Umask, want.Identifier, want.Nocleanup, want.Minfds = 0o27, "imported", true, 2048
	want.Environment = map[string]string{"TZ": "UTC", "LANG": "C.UTF-8"}
	want.Socket = vm.SocketConfig{Path: dir + "/tend.sock", Mode: 0o770, Owner: "root:root"}
	want.HTTP = &vm.HTTPConfig{Listen: "127.0.0.1:9001", Username: "user", Password: "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef"}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("daemon:\n got %+v\nwant %+v", d, want)
	}
}

// wantSpecs is what supervisord runs for testdata/full copied to dir.
func wantSpecs(t *testing.T, dir string) []supervisor.Spec {
	root, err := supervisor.LookupCredential("root")
	if err != nil {
		t.Fatal(err)
	}
	var specs []supervisor.Spec
	for _, n := range []string{"01", "02", "03"} {
		num := int(n[1] - '0')
		s := supervisor.NewSpec("web_"+n, "/usr/bin/python3", "-m", "http.server", "80"+n, "--bind", "127.0.0.1")
		s.CommandLine = "/usr/bin/python3 -m http.server 80" + n + "\n--bind 127.0.0.1"
		s.Program, s.Group, s.Num, s.NumProcs, s.NumProcsStart = "web", "pool", num, 3, 1
		s.Priority, s.GroupPriority, s.AutoStart = 300, 10, false
		s.StartSecs, s.StartRetries, s.AutoRestart = 5*time.Second, 7, supervisor.RestartAlways
		s.ExitCodes, s.StopSignal, s.StopWait = []int{0, 2}, syscall.SIGQUIT, 20*time.Second
		s.StopAsGroup, s.KillAsGroup = false, true
		s.User, s.Credential, s.Directory, s.Umask = "root", root, "/tmp", 0o77
		s.Environment = map[string]string{"PORT": "80" + n, "NAME": "web " + n[1:], "PATH": "/usr/bin:/bin"}
		s.RedirectStderr = true
		s.Stdout = supervisor.LogSpec{Path: dir + "/logs/web-" + n[1:] + ".log", MaxBytes: 10 << 20, Backups: 5,
			CaptureMaxBytes: 1024, EventsEnabled: true, Syslog: true}
		s.Stderr = supervisor.LogSpec{Path: supervisor.LogNone, CaptureMaxBytes: 2048, EventsEnabled: true}
		specs = append(specs, s)
	}

	w := supervisor.NewSpec("worker", "/bin/echo", `a "quoted" word`, `back\slash`, "url=http://x/#frag;not-a-comment")
	w.CommandLine = `/bin/echo "a \"quoted\" word" 'back\slash' url=http://x/#frag;not-a-comment`
	w.Group, w.Priority, w.GroupPriority = "pool", 100, 10
	w.StopAsGroup, w.KillAsGroup = true, true // killasgroup follows stopasgroup
	w.Directory = os.Getenv("HOME")
	specs = append(specs, w)

	c := supervisor.NewSpec("single", "/bin/cat")
	c.CommandLine = "/bin/cat"
	c.AutoRestart, c.StopSignal = supervisor.RestartNever, syscall.SIGKILL
	c.Stdout.Path, c.Stdout.MaxBytes = "/dev/stdout", 0
	specs = append(specs, c)

	e := supervisor.NewSpec("extra", "/bin/true")
	e.CommandLine, e.AutoStart, e.ExitCodes = "/bin/true", false, []int{3}
	return append(specs, e)
}

// svProcess is one process as supervisord configures it, in the terms
// both sides share. supervisorDump prints these as JSON.
type svProcess struct {
	Group         string            `json:"group"`
	Name          string            `json:"name"`
	GroupPriority int               `json:"group_priority"`
	Command       []string          `json:"command"`
	Priority      int               `json:"priority"`
	AutoStart     bool              `json:"autostart"`
	StartSecs     int               `json:"startsecs"`
	StartRetries  int               `json:"startretries"`
	AutoRestart   string            `json:"autorestart"`
	ExitCodes     []int             `json:"exitcodes"`
	StopSignal    int               `json:"stopsignal"`
	StopWaitSecs  int               `json:"stopwaitsecs"`
	StopAsGroup   bool              `json:"stopasgroup"`
	KillAsGroup   bool              `json:"killasgroup"`
	UID           int               `json:"uid"` // -1: unchanged
	Directory     string            `json:"directory"`
	Umask         int               `json:"umask"` // -1: inherited
	Environment   map[string]string `json:"environment"`
	Redirect      bool              `json:"redirect_stderr"`
	Stdout        svLog             `json:"stdout"`
	Stderr        svLog             `json:"stderr"`
	ServerURL     string            `json:"serverurl"`
}

type svLog struct {
	Path     string `json:"path"`
	MaxBytes int64  `json:"maxbytes"`
	Backups  int    `json:"backups"`
	Capture  int64  `json:"capture"`
	Events   bool   `json:"events"`
	Syslog   bool   `json:"syslog"`
}

// supervisorDump loads a config with supervisord's own ServerOptions and
// prints every process as JSON. supervisord merges [supervisord]
// environment= into each program's; the comparison does the same.
const supervisorDump = `
import json, shlex, sys
from supervisor.options import ServerOptions
from supervisor import datatypes
o = ServerOptions()
o.realize(args=['-c', sys.argv[1]])
def path(v):
    return 'AUTO' if v is datatypes.Automatic else 'NONE' if v is None else v
def restart(v):
    return {datatypes.RestartUnconditionally: 'true', datatypes.RestartWhenExitUnexpected: 'unexpected'}.get(v, 'false')
out = []
for g in o.process_group_configs:
    for p in g.process_configs:
        d = dict(group=g.name, name=p.name, group_priority=g.priority, command=shlex.split(p.command),
                 priority=p.priority, autostart=p.autostart, startsecs=p.startsecs, startretries=p.startretries,
                 autorestart=restart(p.autorestart), exitcodes=p.exitcodes, stopsignal=p.stopsignal,
                 stopwaitsecs=p.stopwaitsecs, stopasgroup=p.stopasgroup, killasgroup=p.killasgroup,
                 uid=-1 if p.uid is None else p.uid, directory=p.directory or '',
                 umask=-1 if p.umask is None else p.umask, environment=p.environment or {},
                 redirect_stderr=p.redirect_stderr, serverurl=p.serverurl or '')
        for ch in ('stdout', 'stderr'):
            a = lambda k: getattr(p, ch + '_' + k)
            d[ch] = dict(path=path(a('logfile')), maxbytes=a('logfile_maxbytes'), backups=a('logfile_backups'),
                         capture=a('capture_maxbytes'), events=a('events_enabled'), syslog=a('syslog'))
        out.append(d)
print(json.dumps(out))
`

// supervisorPython returns the Python that runs Debian's supervisord (its
// #! line), failing under CI=true when supervisord is missing.
func supervisorPython(t *testing.T) string {
	t.Helper()
	p := testkit.RequireTool(t, "supervisord")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if !strings.HasPrefix(line, "#!") {
		t.Fatalf("%s has no #! line", p)
	}
	return strings.Fields(strings.TrimPrefix(line, "#!"))[0]
}

// TestImportMatchesSupervisord loads each testdata config with
// supervisord's own option parser and with tend's loader after the
// import, and compares every process: the import must not change what
// runs.
func TestImportMatchesSupervisord(t *testing.T) {
	python := supervisorPython(t)
	for _, name := range []string{"full", "edge"} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("testdata", name))
			os.Mkdir(filepath.Join(dir, "logs"), 0o755) // supervisord checks childlogdir exists
			want := supervisordProcesses(t, python, dir)
			got := tendProcesses(t, dir)
			if len(got) != len(want) {
				t.Errorf("tend has %d processes, supervisord %d", len(got), len(want))
			}
			for _, w := range want {
				g, ok := got[w.Group+":"+w.Name]
				if !ok {
					t.Errorf("tend has no process %s:%s", w.Group, w.Name)
					continue
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s:%s:\n tend        %+v\n supervisord %+v", w.Group, w.Name, g, w)
				}
			}
		})
	}
}

// supervisordProcesses runs supervisorDump on dir/supervisord.conf.
func supervisordProcesses(t *testing.T, python, dir string) []svProcess {
	t.Helper()
	cmd := exec.Command(python, "-c", supervisorDump, filepath.Join(dir, "supervisord.conf"))
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("supervisord's parser: %v\n%s", err, stderr.String())
	}
	var procs []svProcess
	if err := json.Unmarshal(raw, &procs); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return procs
}

// tendProcesses imports dir/supervisord.conf and the files it includes
// from conf.d, loads the result and describes each process by
// group:name.
func tendProcesses(t *testing.T, dir string) map[string]svProcess {
	t.Helper()
	importTo(t, filepath.Join(dir, "supervisord.conf"), filepath.Join(dir, "tend.lua"))
	included, _ := filepath.Glob(filepath.Join(dir, "conf.d/*.conf"))
	for _, f := range included {
		importTo(t, f, strings.TrimSuffix(f, ".conf")+".lua")
	}
	v, cfg, err := vm.Load(context.Background(), filepath.Join(dir, "tend.lua"), vm.Options{})
	if err != nil {
		t.Fatalf("load the imported config: %v", err)
	}
	defer v.Close()
	got := map[string]svProcess{}
	for _, s := range cfg.Specs {
		got[s.Group+":"+s.Name] = asSupervisord(s, cfg.Daemon.Environment)
	}
	return got
}

// asSupervisord describes a tend spec in supervisord's terms.
func asSupervisord(s supervisor.Spec, daemonEnv map[string]string) svProcess {
	env := map[string]string{}
	maps.Copy(env, daemonEnv)
	maps.Copy(env, s.Environment)
	uid := -1
	if s.Credential != nil {
		uid = int(s.Credential.Uid)
	}
	log := func(l supervisor.LogSpec) svLog {
		return svLog{Path: l.Path, MaxBytes: l.MaxBytes, Backups: l.Backups, Capture: l.CaptureMaxBytes, Events: l.EventsEnabled, Syslog: l.Syslog}
	}
	stderr := log(s.Stderr)
	if s.RedirectStderr {
		stderr.Path = supervisor.LogNone // supervisord's way of saying "no stderr file"; tend's engine skips it
	}
	return svProcess{
		Group: s.Group, Name: s.Name, GroupPriority: s.GroupPriority, Command: s.Command, Priority: s.Priority,
		AutoStart: s.AutoStart, StartSecs: int(s.StartSecs / time.Second), StartRetries: s.StartRetries,
		AutoRestart: s.AutoRestart.String(), ExitCodes: s.ExitCodes, StopSignal: int(s.StopSignal),
		StopWaitSecs: int(s.StopWait / time.Second), StopAsGroup: s.StopAsGroup, KillAsGroup: s.KillAsGroup,
		UID: uid, Directory: s.Directory, Umask: s.Umask, Environment: env, Redirect: s.RedirectStderr,
		Stdout: log(s.Stdout), Stderr: stderr, ServerURL: s.ServerURL,
	}
}

// An [eventlistener:x] section becomes an eventlistener pool that tend's
// loader resolves with supervisord's events, buffer size and options.
func TestImportEventListener(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	src := "[eventlistener:crash]\ncommand=crashmail -a -m ops@example.com\nevents=PROCESS_STATE_EXITED,TICK_60\n" +
		"buffer_size=25\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\npriority=5\n"
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := importTo(t, conf, filepath.Join(dir, "tend.lua")); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	v, cfg, err := vm.Load(context.Background(), filepath.Join(dir, "tend.lua"), vm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if len(cfg.Specs) != 2 {
		t.Fatalf("specs: %+v", cfg.Specs)
	}
	for i, s := range cfg.Specs {
		if want := fmt.Sprintf("crash_%d", i); s.Name != want || s.Program != "crash" || s.Priority != 5 {
			t.Errorf("spec %d: name %q program %q priority %d, want %s, crash, 5", i, s.Name, s.Program, s.Priority, want)
		}
		if want := []string{"crashmail", "-a", "-m", "ops@example.com"}; !reflect.DeepEqual(s.Command, want) {
			t.Errorf("%s: command %q, want %q", s.Name, s.Command, want)
		}
		want := &supervisor.ListenerSpec{Events: []string{"PROCESS_STATE_EXITED", "TICK_60"}, BufferSize: 25}
		if !reflect.DeepEqual(s.Listener, want) {
			t.Errorf("%s: listener %+v, want %+v", s.Name, s.Listener, want)
		}
	}
}

// TestImportedExpansionsLoad: a supervisord.conf that takes numbers,
// booleans, sizes and the log level from the environment imports without
// warnings and loads with the values supervisord would use.
func TestImportedExpansionsLoad(t *testing.T) {
	t.Setenv("IMP_WORKERS", "2")
	t.Setenv("IMP_AUTO", "false")
	t.Setenv("IMP_SIZE", "1KB")
	t.Setenv("IMP_LEVEL", "warn")
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	ini := "[supervisord]\nloglevel=%(ENV_IMP_LEVEL)s\nlogfile_maxbytes=%(ENV_IMP_SIZE)s\n\n" +
		"[program:w]\ncommand=/bin/sleep 10\nnumprocs=%(ENV_IMP_WORKERS)s\nprocess_name=%(program_name)s_%(process_num)d\n" +
		"autostart=%(ENV_IMP_AUTO)s\nstdout_logfile_maxbytes=%(ENV_IMP_SIZE)s\nstartsecs=%(ENV_IMP_WORKERS)s\n"
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := importTo(t, conf, filepath.Join(dir, "tend.lua")); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	v, cfg, err := vm.Load(context.Background(), filepath.Join(dir, "tend.lua"), vm.Options{})
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "tend.lua"))
		t.Fatalf("load the imported config: %v\n%s", err, b)
	}
	defer v.Close()
	if cfg.Daemon.LogLevel != "warn" || cfg.Daemon.LogfileMaxBytes != 1024 {
		t.Errorf("daemon: loglevel %q, logfile_maxbytes %d", cfg.Daemon.LogLevel, cfg.Daemon.LogfileMaxBytes)
	}
	if len(cfg.Specs) != 2 {
		t.Fatalf("%d processes, want 2", len(cfg.Specs))
	}
	if s := cfg.Specs[1]; s.Name != "w_1" || s.AutoStart || s.Stdout.MaxBytes != 1024 || s.StartSecs != 2*time.Second {
		t.Errorf("spec = %+v", s)
	}
}
