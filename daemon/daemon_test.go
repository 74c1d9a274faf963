package daemon

import (
	"context"
	"github.com/tend-sh/tend/internal/testkit"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/version"
)

func TestMain(m *testing.M) {
	supervisor.RunTrampoline() // children with a umask run this binary first
	os.Exit(testkit.Run(m))
}

// testDaemon is a Daemon running in the test process on a config in a
// temporary folder.
type testDaemon struct {
	*Daemon
	t      *testing.T
	dir    string
	config string
	done   chan struct{}
}

// header is the daemon{} block every test config starts with; extra adds
// settings to it.
func (td *testDaemon) header(extra string) string {
	return `daemon { logfile = "` + td.dir + `/tend.log", childlogdir = "` + td.dir + `", ` +
		`socket = { path = "` + td.dir + `/tend.sock" }, ` + extra + ` }
`
}

// write replaces the config file.
func (td *testDaemon) write(text string) {
	td.t.Helper()
	if err := os.WriteFile(td.config, []byte(text), 0o644); err != nil {
		td.t.Fatal(err)
	}
}

// startDaemon writes the config that config(td) returns, opens the daemon
// and runs it until the test ends.
func startDaemon(t *testing.T, config func(td *testDaemon) string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	td := &testDaemon{t: t, dir: dir, config: filepath.Join(dir, "tend.lua"), done: make(chan struct{})}
	td.write(config(td))
	d, err := Open(context.Background(), Options{Path: td.config})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	td.Daemon = d
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	running := make(chan struct{})
	go func() {
		defer close(td.done)
		d.Run(context.Background(), nil, func() { close(running) })
	}()
	<-running
	t.Cleanup(func() {
		d.Shutdown()
		<-td.done
		d.Close()
	})
	return td
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running waits until name is RUNNING and returns its pid.
func (td *testDaemon) running(name string) int {
	td.t.Helper()
	var pid int
	waitFor(td.t, name+" RUNNING", 10*time.Second, func() bool {
		i, err := td.Engine().Info(name)
		pid = i.Pid
		return err == nil && i.State == supervisor.Running
	})
	return pid
}

// logText returns the daemon's log so far.
func (td *testDaemon) logText() string {
	data, _ := os.ReadFile(filepath.Join(td.dir, "tend.log"))
	return string(data)
}

// waitLog waits until the daemon's log matches re.
func (td *testDaemon) waitLog(re string) {
	td.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for !rx.MatchString(td.logText()) {
		if time.Now().After(deadline) {
			td.t.Fatalf("timed out waiting for a log line matching %s; the log:\n%s", re, td.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReloadWithBadConfigChangesNothing(t *testing.T) {
	td := startDaemon(t, func(td *testDaemon) string {
		return td.header("") + `program "a" { command = "sleep 1000", startsecs = 0 }`
	})
	pid := td.running("a")
	cfg := td.Config()
	for _, bad := range []struct{ name, text, want string }{
		{"syntax", `program "a" { command = "sleep 1000" `, `tend\.lua`},
		{"unknown option", td.header("") + `program "a" { command = "sleep 1000", startsec = 1 }`, `tend\.lua:\d+: program "a": unknown option "startsec"`},
		{"runtime error", td.header("") + `error("boom")`, `tend\.lua:\d+: boom`},
	} {
		td.write(bad.text)
		err := td.reload(context.Background())
		if err == nil || !regexp.MustCompile(bad.want).MatchString(err.Error()) {
			t.Errorf("%s: reload error %v, want one matching %s", bad.name, err, bad.want)
		}
		if got := td.running("a"); got != pid {
			t.Errorf("%s: a's pid went from %d to %d", bad.name, pid, got)
		}
		if td.Config() != cfg {
			t.Errorf("%s: the running config was replaced", bad.name)
		}
		if err := td.Reload(); err == nil {
			t.Errorf("%s: Reload() accepted a config that does not load", bad.name)
		}
		if _, err := td.Update(context.Background(), nil); err == nil {
			t.Errorf("%s: Update accepted a config that does not load", bad.name)
		}
	}
}

func TestReloadForgetsRemovedHookTimeout(t *testing.T) {
	prog := `program "a" { command = "sleep 1000", startsecs = 0, on_exit = function() end }`
	td := startDaemon(t, func(td *testDaemon) string { return td.header("hook_timeout = 5") + prog })
	td.running("a")
	if got := td.Config().Daemon.HookTimeout; got != 5*time.Second {
		t.Fatalf("hook_timeout = %s, want 5s", got)
	}
	td.write(td.header("") + prog)
	if err := td.reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	td.running("a")
	if got := td.Config().Daemon.HookTimeout; got != supervisor.DefaultHookTimeout {
		t.Errorf("after removing hook_timeout it is %s, want the default %s", got, supervisor.DefaultHookTimeout)
	}
	if got := td.Engine().Specs()[0].HookTimeout; got != supervisor.DefaultHookTimeout {
		t.Errorf("a's hook timeout is %s, want the default %s", got, supervisor.DefaultHookTimeout)
	}
}

// TestPartialUpdateKeepsEachGroupInOneState checks the rule of doc.go: after
// `update one`, program two still runs every hook in the state it started
// with, and program one every hook in the new one.
func TestPartialUpdateKeepsEachGroupInOneState(t *testing.T) {
	config := func(td *testDaemon, gen string) string {
		text := td.header("") + `local log = require "log"
local gen = "` + gen + `"
for _, name in ipairs { "one", "two" } do
  program(name) {
    command = "sleep 1000", startsecs = 0, autorestart = true,
    on_start = function(p) log.info("on_start " .. p.name .. " gen=" .. gen) end,
    on_exit = function(p, e) log.info("on_exit " .. p.name .. " gen=" .. gen) end,
  }
end
`
		return text
	}
	td := startDaemon(t, func(td *testDaemon) string { return config(td, "A") })
	td.waitLog(`on_start one gen=A`)
	td.waitLog(`on_start two gen=A`)
	td.write(config(td, "B"))
	if _, err := td.Update(context.Background(), []string{"one"}); err != nil {
		t.Fatal(err)
	}
	kill := func(name string) {
		pid := td.running(name)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, name+" restarted", 10*time.Second, func() bool {
			i, _ := td.Engine().Info(name)
			return i.State == supervisor.Running && i.Pid != pid
		})
	}
	kill("two")
	td.waitLog(`on_exit two gen=A[^\n]*\n(?s:.*)on_start two gen=A`)
	kill("one")
	td.waitLog(`on_exit one gen=B[^\n]*\n(?s:.*)on_start one gen=B`)
	if strings.Contains(td.logText(), "two gen=B") {
		t.Errorf("two ran a hook of the new config before its group was updated:\n%s", td.logText())
	}

	// A full update moves every group to the new state, and the old one
	// is closed.
	if _, err := td.Update(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	kill("two")
	td.waitLog(`on_exit two gen=B[^\n]*\n(?s:.*)on_start two gen=B`)
	td.mu.Lock()
	states := len(td.statesLocked())
	td.mu.Unlock()
	if states != 1 {
		t.Errorf("%d Lua states open after a full update, want 1", states)
	}
}

// TestHookMetricsMove proves /metrics reports the real hook calls.
func TestHookMetricsMove(t *testing.T) {
	td := startDaemon(t, func(td *testDaemon) string {
		return td.header("hook_timeout = 0.2") + `
program "ok" { command = "sleep 1000", startsecs = 0, on_start = function() end }
program "bad" { command = "sleep 1000", startsecs = 0, on_start = function() error("boom") end }
program "slow" { command = "sleep 1000", startsecs = 0, on_start = function() while true do end end }
`
	})
	srv := httptest.NewServer(control.New(control.Options{Engine: td.Engine(), Daemon: td.Daemon}))
	defer srv.Close()
	metric := func(body, name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in /metrics:\n%s", name, body)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	var body string
	waitFor(t, "three hook calls counted", 10*time.Second, func() bool {
		resp, err := srv.Client().Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(data)
		return metric(body, "tend_hook_calls_total") >= 3
	})
	if got := metric(body, "tend_hook_errors_total"); got != 1 {
		t.Errorf("tend_hook_errors_total = %v, want 1", got)
	}
	if got := metric(body, "tend_hook_timeouts_total"); got != 1 {
		t.Errorf("tend_hook_timeouts_total = %v, want 1", got)
	}
	if got := metric(body, "tend_hook_duration_seconds_total"); got < 0.2 {
		t.Errorf("tend_hook_duration_seconds_total = %v, want at least the 0.2 s timeout", got)
	}
}

// TestShutdownDuringHungReload: a config that loops forever at load must
// not hold up a SIGTERM that arrives meanwhile (the load's own deadline is
// far longer than the wait here).
func TestShutdownDuringHungReload(t *testing.T) {
	dir := t.TempDir()
	td := &testDaemon{t: t, dir: dir, config: filepath.Join(dir, "tend.lua")}
	td.write(td.header("") + `program "a" { command = "sleep 1000", startsecs = 0 }`)
	d, err := Open(context.Background(), Options{Path: td.config})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 2)
	running, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		d.Run(context.Background(), sigs, func() { close(running) })
	}()
	<-running
	td.Daemon = d
	pid := td.running("a")
	td.write(td.header("") + `while true do end`)
	sigs <- syscall.SIGHUP
	td.waitLog(`received SIGHUP`)
	sigs <- syscall.SIGTERM
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM during a hung reload was not obeyed within 10 s")
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("a (pid %d) survived the shutdown", pid)
	}
}

// TestReplaceStuckState checks what the daemon does when a Lua state is
// stuck: a fresh load takes over the groups it served, nothing restarts,
// and the old state is closed.
func TestReplaceStuckState(t *testing.T) {
	td := startDaemon(t, func(td *testDaemon) string {
		return td.header("") + `local log = require "log"
program "a" { command = "sleep 1000", startsecs = 0, on_start = function(p) log.info("started " .. p.name) end }`
	})
	pid := td.running("a")
	td.waitLog(`started a`) // before the state it runs in is replaced
	old := td.current()
	if err := td.replace(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if td.current() == old {
		t.Fatal("the state was not replaced")
	}
	if states := td.states(); len(states) != 1 || states[0] != td.current() {
		t.Errorf("open states %v, want only the new one", states)
	}
	if _, err := old.Eval(context.Background(), "1"); err == nil {
		t.Error("the replaced state still runs chunks")
	}
	if got := td.running("a"); got != pid {
		t.Errorf("a restarted: pid %d, was %d", got, pid)
	}
	// The group's hooks now run in the new state.
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "a restarted", 10*time.Second, func() bool {
		i, _ := td.Engine().Info("a")
		return i.State == supervisor.Running && i.Pid != pid
	})
	td.mu.Lock()
	owner := td.owner["a"]
	td.mu.Unlock()
	if owner != td.current() {
		t.Error("group a is not served by the new state")
	}
	td.waitLog(`(?s)started a.*started a`)
}

// TestUpdateAddedGroupRunsFirstHook: a group an update adds runs the
// on_start of its very first start (its state owns it before the engine
// starts it).
func TestUpdateAddedGroupRunsFirstHook(t *testing.T) {
	prog := func(name string) string {
		return `program "` + name + `" { command = "sleep 1000", startsecs = 0,
  on_start = function(p) require("log").info("first start of " .. p.name) end }
`
	}
	td := startDaemon(t, func(td *testDaemon) string { return td.header("") + prog("one") })
	td.waitLog(`first start of one`)
	for _, name := range []string{"two", "three", "four"} {
		td.write(td.header("") + prog("one") + prog(name))
		groups := []string{name}
		if name == "four" {
			groups = nil // a full update adds it too
		}
		if _, err := td.Update(context.Background(), groups); err != nil {
			t.Fatal(err)
		}
		td.waitLog(`first start of ` + name)
	}
}

// TestStartLineNamesTend: the daemon's start line speaks of tend and its
// version, not of supervisord.
func TestStartLineNamesTend(t *testing.T) {
	td := startDaemon(t, func(td *testDaemon) string { return td.header("") })
	data, err := os.ReadFile(filepath.Join(td.dir, "tend.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := "INFO tend started with pid " + strconv.Itoa(os.Getpid()) + " (version " + version.String() + ")\n"
	if !strings.Contains(string(data), want) || strings.Contains(string(data), "supervisord started") {
		t.Fatalf("log has no %q:\n%s", want, data)
	}
}

// TestIncludeMatchingNothingIsLogged: an include glob that matches no
// file is a warning in the daemon log, at start and at each reload, as
// supervisord logs "No file matches via include".
func TestIncludeMatchingNothingIsLogged(t *testing.T) {
	td := startDaemon(t, func(td *testDaemon) string {
		return td.header("") + "include \"conf.d/*.lua\"\nprogram \"a\" { command = \"sleep 1000\", startsecs = 0 }\n"
	})
	td.waitLog(`WARN .*tend\.lua:2: include: no file matches "` + regexp.QuoteMeta(td.dir) + `/conf\.d/\*\.lua"`)
}

// TestReloadIntroducingRequiresCycleChangesNothing: a reload whose config
// has a cycle of requirements (or names what does not exist) is refused
// with the file:line of the requires option, and the running processes
// and config stay as they were.
func TestReloadIntroducingRequiresCycleChangesNothing(t *testing.T) {
	td := startDaemon(t, func(td *testDaemon) string {
		return td.header("") + `program "a" { command = "sleep 1000", startsecs = 0 }
program "b" { command = "sleep 1000", startsecs = 0, requires = { "a" } }
`
	})
	pa, pb := td.running("a"), td.running("b")
	cfg := td.Config()
	for _, bad := range []struct{ name, text, want string }{
		{"cycle", `program "a" {
  command = "sleep 1000", startsecs = 0,
  requires = { b = "running" },
}
program "b" { command = "sleep 1000", startsecs = 0, requires = { "a" } }
`, `tend\.lua:4: program "a": requires: cycle: a -> b -> a`},
		{"unknown name", `program "a" { command = "sleep 1000", startsecs = 0 }
program "b" { command = "sleep 1000", startsecs = 0, requires = { "c" } }
`, `tend\.lua:3: program "b": requires: "c" is no program, group or process`},
	} {
		td.write(td.header("") + bad.text)
		err := td.reload(context.Background())
		if err == nil || !regexp.MustCompile(bad.want).MatchString(err.Error()) {
			t.Errorf("%s: reload error %v, want one matching %s", bad.name, err, bad.want)
		}
		if _, err := td.Update(context.Background(), nil); err == nil {
			t.Errorf("%s: Update accepted the config", bad.name)
		}
		if td.running("a") != pa || td.running("b") != pb {
			t.Errorf("%s: a process was restarted", bad.name)
		}
		if td.Config() != cfg {
			t.Errorf("%s: the running config was replaced", bad.name)
		}
		if specs := td.Engine().Specs(); len(specs) != 2 || len(specs[0].Requires)+len(specs[1].Requires) != 1 {
			t.Errorf("%s: the engine's specs changed: %+v", bad.name, specs)
		}
	}
}
