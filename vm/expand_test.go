package vm

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// TestEveryOptionExpands: supervisord expands every value before it
// converts it, so %(ENV_X)s works in numbers, booleans, sizes, signals,
// octal modes, exit codes and the daemon's options, not only in strings.
func TestEveryOptionExpands(t *testing.T) {
	for k, v := range map[string]string{
		"T_WORKERS": "3", "T_START": "2", "T_NO": "false", "T_SECS": "2.5", "T_SIZE": "1KB", "T_SIG": "INT",
		"T_UMASK": "027", "T_CODES": "0,3", "T_PRIO": "7", "T_RETRIES": "5", "T_RESTART": "true",
		"T_LEVEL": "debug", "T_MODE": "0770", "T_BUF": "20", "T_AUTH": "true", "T_LOG": "NONE",
	} {
		t.Setenv(k, v)
	}
	_, cfg := loadSource(t, `
daemon {
  loglevel = "%(ENV_T_LEVEL)s", logfile_maxbytes = "%(ENV_T_SIZE)s", logfile_backups = "%(ENV_T_PRIO)s",
  hook_timeout = "%(ENV_T_SECS)s", nocleanup = "%(ENV_T_NO)s", identifier = "id-%(ENV_T_PRIO)s",
  socket = { path = "%(here)s/s.sock", mode = "%(ENV_T_MODE)s" },
  http = { listen = "127.0.0.1:%(ENV_T_PRIO)s", allow_no_auth = "%(ENV_T_AUTH)s" },
}
program "w" {
  command = "sleep %(process_num)d",
  numprocs = "%(ENV_T_WORKERS)s", numprocs_start = "%(ENV_T_START)s",
  process_name = "%(program_name)s_%(process_num)d",
  priority = "%(ENV_T_PRIO)s", autostart = "%(ENV_T_NO)s", startsecs = "%(ENV_T_SECS)s",
  startretries = "%(ENV_T_RETRIES)s", autorestart = "%(ENV_T_RESTART)s", exitcodes = "%(ENV_T_CODES)s",
  stopsignal = "%(ENV_T_SIG)s", stopwaitsecs = "%(ENV_T_SECS)s", stopasgroup = "%(ENV_T_NO)s",
  umask = "%(ENV_T_UMASK)s", stdout_logfile_maxbytes = "%(ENV_T_SIZE)s",
  stdout_logfile_backups = "%(ENV_T_PRIO)s", stderr_logfile = "%(ENV_T_LOG)s",
  redirect_stderr = "%(ENV_T_NO)s", hook_timeout = "%(ENV_T_SECS)s",
}
eventlistener "ev" { command = "cat", events = { "TICK_5" }, buffer_size = "%(ENV_T_BUF)s" }
group "g" { programs = { "w" }, priority = "%(ENV_T_PRIO)s" }
`, Options{})
	d := cfg.Daemon
	if d.LogLevel != "debug" || d.LogfileMaxBytes != 1024 || d.LogfileBackups != 7 || d.HookTimeout != 2500*time.Millisecond ||
		d.Nocleanup || d.Identifier != "id-7" || d.Socket.Mode != 0o770 || d.Socket.Path != filepath.Join(filepath.Dir(cfg.Path), "s.sock") ||
		d.HTTP == nil || d.HTTP.Listen != "127.0.0.1:7" || !d.HTTP.AllowNoAuth {
		t.Errorf("daemon = %+v (http %+v)", d, d.HTTP)
	}
	if len(cfg.Specs) != 4 {
		t.Fatalf("got %d specs, want 3 of w and 1 of ev", len(cfg.Specs))
	}
	s := cfg.Specs[0]
	if s.Name != "w_2" || s.NumProcs != 3 || s.Priority != 7 || s.GroupPriority != 7 || s.AutoStart || s.StartSecs != 2500*time.Millisecond ||
		s.StartRetries != 5 || s.AutoRestart != supervisor.RestartAlways || len(s.ExitCodes) != 2 || s.ExitCodes[1] != 3 || s.StopSignal != syscall.SIGINT ||
		s.StopWait != 2500*time.Millisecond || s.StopAsGroup || s.Umask != 0o27 || s.Stdout.MaxBytes != 1024 || s.Stdout.Backups != 7 ||
		s.Stderr.Path != "NONE" || s.HookTimeout != 2500*time.Millisecond || s.Command[1] != "2" {
		t.Errorf("spec = %+v", s)
	}
	var ev = cfg.Specs[3]
	if ev.Listener == nil || ev.Listener.BufferSize != 20 {
		t.Errorf("eventlistener = %+v", ev.Listener)
	}
}

// TestProgramLevelExpansionHasNoProcessNum: numprocs is read before the
// instances exist, so %(process_num)d cannot expand in it (supervisord
// fails the same way).
func TestProgramLevelExpansionHasNoProcessNum(t *testing.T) {
	got := loadError(t, map[string]string{"tend.lua": `program "w" { command = "x", numprocs = "%(process_num)d" }`})
	if !strings.Contains(got, "process_num") || !strings.Contains(got, "numprocs:") {
		t.Errorf("error = %q, want one naming numprocs and process_num", got)
	}
}

// TestPName: p.name is the instance's resolved process_name in every
// option that is a function of p, the environment included; p.numprocs
// is the program's numprocs. Inside process_name itself p.name is nil.
func TestPName(t *testing.T) {
	t.Setenv("T_SUFFIX", "x")
	_, cfg := loadSource(t, `
program "task1" {
  numprocs = 2,
  process_name = "%(program_name)s_%(process_num)02d",
  environment = function(p) return { GREETING = "hello from " .. p.name, N = p.numprocs } end,
  command = function(p) return { "/bin/echo", p.name } end,
  directory = function(p) return "/tmp/" .. p.name end,
}
program "fn" {
  process_name = function(p) return "fn_" .. tostring(p.name) end,
  environment = function(p) return { NAME = p.name } end,
  command = "true",
}
program "envname" {
  process_name = "%(program_name)s_%(ENV_T_SUFFIX)s",
  environment = { T_SUFFIX = "own" },
  command = "true",
}`, Options{})
	got := map[string]string{}
	for _, s := range cfg.Specs {
		got[s.Name] = fmt.Sprintf("%s|%s|%s|%s", s.Environment["GREETING"]+s.Environment["NAME"], s.Environment["N"], strings.Join(s.Command, " "), s.Directory)
	}
	want := map[string]string{
		"task1_00":    "hello from task1_00|2|/bin/echo task1_00|/tmp/task1_00",
		"task1_01":    "hello from task1_01|2|/bin/echo task1_01|/tmp/task1_01",
		"fn_nil":      "fn_nil||true|",
		"envname_own": "||true|", // supervisord's order: the program's own environment first
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestEventsExpand: an eventlistener's events string expands too, as
// supervisord expands every value.
func TestEventsExpand(t *testing.T) {
	t.Setenv("T_EVENTS", "TICK_5,PROCESS_STATE")
	_, cfg := loadSource(t, `eventlistener "ev" { command = "cat", events = "%(ENV_T_EVENTS)s" }`, Options{})
	if got := cfg.Specs[0].Listener.Events; !reflect.DeepEqual(got, []string{"TICK_5", "PROCESS_STATE"}) {
		t.Errorf("events = %q", got)
	}
}
