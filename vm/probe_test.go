package vm

import (
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// TestProbeDecode: every check kind and field reaches the Spec; durations
// are seconds or duration strings.
func TestProbeDecode(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want supervisor.ProbeSpec
	}{
		{`{ http = "http://127.0.0.1:8080/healthz" }`, supervisor.ProbeSpec{HTTP: "http://127.0.0.1:8080/healthz"}},
		{`{ tcp = "127.0.0.1:5432", period = "10s", timeout = "500ms" }`,
			supervisor.ProbeSpec{TCP: "127.0.0.1:5432", Period: 10 * time.Second, Timeout: 500 * time.Millisecond}},
		{`{ exec = "pg_isready -q", period = 2.5, initial_delay = "1m", failure_threshold = 5, success_threshold = 2 }`,
			supervisor.ProbeSpec{Exec: "pg_isready -q", Period: 2500 * time.Millisecond, InitialDelay: time.Minute, FailureThreshold: 5, SuccessThreshold: 2}},
	} {
		_, cfg := loadSource(t, `program "p" { command = "sleep 1", probe = `+tc.src+` }`, Options{})
		if got := cfg.Specs[0].Probe; got == nil || *got != tc.want {
			t.Errorf("probe = %s: got %+v, want %+v", tc.src, got, tc.want)
		}
	}
	_, cfg := loadSource(t, `program "p" { command = "sleep 1", ready = { notify = "systemd", timeout = "2m" }, watchdog = "30s" }`, Options{})
	if s := cfg.Specs[0]; s.Watchdog != 30*time.Second || s.Ready.Timeout != 2*time.Minute {
		t.Errorf("watchdog %s, ready.timeout %s; want 30s and 2m", s.Watchdog, s.Ready.Timeout)
	}
}

// TestProbeDecodeErrors: a bad probe or watchdog is a config error with
// the file, the line and the field.
func TestProbeDecodeErrors(t *testing.T) {
	for src, want := range map[string]string{
		`probe = "http://x"`: `tend.lua:3: program "p": probe must be a table such as { http = "http://127.0.0.1:8080/healthz" }, not "http://x"`,
		`probe = {}`:         `tend.lua:3: program "p": probe needs exactly one of http, tcp, exec, check`,
		`probe = { http = "http://x", tcp = "x:1" }`:         `tend.lua:3: program "p": probe needs exactly one of http, tcp, exec, check`,
		`probe = { log = "x" }`:                              `tend.lua:3: program "p": probe: unknown field log (known: check, exec, failure_threshold, http, initial_delay, period, success_threshold, tcp, timeout)`,
		`probe = { exec = "true", period = "soon" }`:         `tend.lua:3: program "p": probe.period must be a number > 0, got "soon" (seconds, or a duration such as "10s")`,
		`probe = { exec = "true", period = 0 }`:              `tend.lua:3: program "p": probe.period must be a number > 0, got 0`,
		`probe = { exec = "true", failure_threshold = 0 }`:   `tend.lua:3: program "p": probe.failure_threshold must be an integer >= 1, got 0`,
		`probe = { exec = "true", success_threshold = 1.5 }`: `tend.lua:3: program "p": probe.success_threshold must be an integer >= 1, got 1.5`,
		`probe = { check = "yes" }`:                          `tend.lua:3: program "p": probe.check must be a function, got "yes"`,
		`watchdog = 30`:                                      `tend.lua:3: program "p": watchdog needs ready = { notify = "systemd" }`,
		`ready = { log = "up" }, watchdog = "30s"`:           `tend.lua:3: program "p": watchdog needs ready = { notify = "systemd" }`,
		`ready = { notify = "systemd" }, watchdog = "x"`:     `tend.lua:3: program "p": watchdog must be a number >= 0, got "x"`,
	} {
		got := loadError(t, map[string]string{"tend.lua": "-- a probe\nprogram \"p\" {\n  command = \"sleep 1\", " + src + " }"})
		if !strings.Contains(got, want) {
			t.Errorf("%s: error\n  %q\nwant it to contain\n  %q", src, got, want)
		}
	}
}

// TestProbeCheckFunction: a Lua probe runs through the VM while RUNNING;
// when it returns false the process is restarted, on_exit sees the reason
// and sv.status shows the probe's state.
func TestProbeCheckFunction(t *testing.T) {
	v, e := start(t, `
healthy = true
reason = ""
program "c" {
  command = "sleep 1000", startsecs = 0, stopwaitsecs = 1,
  probe = { check = function(p) return healthy and p.pid > 0 end, period = 0.05, failure_threshold = 2 },
  on_exit = function(p, e) reason = e.reason or "none" end,
}`, nil)
	e.WaitState("c", supervisor.Running)
	waitFor(t, "the probe to pass", 10*time.Second, func() bool { return info(t, e, "c").Probe == "ok" })
	first := info(t, e, "c").Pid
	eval(t, v, `healthy = false`)
	const want = "probe failed 2 times: check returned false"
	waitFor(t, "on_exit with the reason", 10*time.Second, func() bool { return eval(t, v, `reason`) == want })
	eval(t, v, `healthy = true`)
	waitFor(t, "a new run whose probe passes", 10*time.Second, func() bool {
		i := info(t, e, "c")
		return i.Pid != first && i.State == supervisor.Running && i.Probe == "ok" && i.KillReason == want
	})
}

// TestProbeCheckReloadIsNoChange: the same probe check loaded twice gives
// specs update sees as equal.
func TestProbeCheckReloadIsNoChange(t *testing.T) {
	src := `program "p" { command = "sleep 1", probe = { check = function(p) return true end } }`
	_, a := loadSource(t, src, Options{})
	_, b := loadSource(t, src, Options{})
	if !a.Specs[0].Equal(b.Specs[0]) {
		t.Error("the same probe check loaded twice makes specs differ")
	}
}
