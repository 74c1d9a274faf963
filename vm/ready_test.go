package vm

import (
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// TestReadyDecode: every way and the common fields reach the Spec.
func TestReadyDecode(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want supervisor.ReadySpec
	}{
		{`{ notify = "systemd", notify_access = "group" }`, supervisor.ReadySpec{Notify: true, NotifyAccess: "group"}},
		{`{ fd = 3, timeout = 5 }`, supervisor.ReadySpec{FD: 3, Timeout: 5 * time.Second}},
		{`{ http = "http://127.0.0.1:1/", period = 0.5, initial_delay = 2 }`, supervisor.ReadySpec{HTTP: "http://127.0.0.1:1/", Period: 500 * time.Millisecond, InitialDelay: 2 * time.Second}},
		{`{ tcp = "127.0.0.1:5432" }`, supervisor.ReadySpec{TCP: "127.0.0.1:5432"}},
		{`{ exec = "pg_isready -q" }`, supervisor.ReadySpec{Exec: "pg_isready -q"}},
		{`{ log = "ready to accept" }`, supervisor.ReadySpec{Log: "ready to accept"}},
	} {
		_, cfg := loadSource(t, `program "p" { command = "sleep 1", ready = `+tc.src+` }`, Options{})
		if got := cfg.Specs[0].Ready; got == nil || *got != tc.want {
			t.Errorf("ready = %s: got %+v, want %+v", tc.src, got, tc.want)
		}
	}
}

// TestReadyDecodeErrors: bad ready tables are config errors naming the field.
func TestReadyDecodeErrors(t *testing.T) {
	for src, want := range map[string]string{
		`"systemd"`:                "must be a table",
		`{}`:                       "exactly one of",
		`{ notify = "s6" }`:        `notify must be "systemd"`,
		`{ fd = 1 }`:               "3 or more",
		`{ fd = 3, log = "x" }`:    "exactly one of",
		`{ log = "x", bogus = 1 }`: "unknown field bogus",
		`{ check = 3 }`:            "check must be a function",
		`{ notify = "systemd", notify_access = "x" }`: "notify_access",
	} {
		got := loadError(t, map[string]string{"tend.lua": `program "p" { command = "sleep 1", ready = ` + src + ` }`})
		if !strings.Contains(got, want) {
			t.Errorf("ready = %s: error %q, want it to say %q", src, got, want)
		}
	}
}

// TestReadyCheckFunction: a Lua check runs through the VM; the process
// stays STARTING until it returns true.
func TestReadyCheckFunction(t *testing.T) {
	v, e := start(t, `
calls = 0
ok = false
program "c" {
  command = "sleep 1000", startsecs = 0,
  ready = { check = function(p) calls = calls + 1; return ok and p.pid > 0 end, period = 0.05 },
}`, nil)
	waitFor(t, "two calls", 10*time.Second, func() bool { return eval(t, v, `tostring(calls >= 2)`) == "true" })
	if st := info(t, e, "c").State; st != supervisor.Starting {
		t.Fatalf("state %s while the check returns false, want STARTING", st)
	}
	eval(t, v, `ok = true`)
	e.WaitState("c", supervisor.Running)
}

// TestOnReadyHook: on_ready(p) runs once the process is ready, before
// RUNNING is decided by startsecs.
func TestOnReadyHook(t *testing.T) {
	v, e := start(t, `
seen = ""
program "r" {
  command = { "sh", "-c", "sleep 0.1; echo up; exec sleep 1000" }, startsecs = 0,
  ready = { log = "up" },
  on_ready = function(p) seen = p.name .. " " .. tostring(p.pid > 0) end,
}`, nil)
	e.WaitState("r", supervisor.Running)
	waitFor(t, "on_ready", 10*time.Second, func() bool { return eval(t, v, `seen`) == "r true" })
}

// TestReadyCheckReloadIsNoChange: loading the same config twice gives
// specs that update sees as equal, though each load makes a new function.
func TestReadyCheckReloadIsNoChange(t *testing.T) {
	src := `program "p" { command = "sleep 1", ready = { check = function(p) return true end } }`
	_, a := loadSource(t, src, Options{})
	_, b := loadSource(t, src, Options{})
	if !a.Specs[0].Equal(b.Specs[0]) {
		t.Error("the same ready check loaded twice makes specs differ")
	}
}
