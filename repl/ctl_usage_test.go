package repl

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// status -v and ps print one table: a header, a row per process with its
// figures, dashes for one that is not running, and the last exit of one
// that ended; the exit status is status's.
func TestRun_StatusVerbose(t *testing.T) {
	quit := supervisor.NewSpec("quit", "sh", "-c", "exit 3")
	quit.StartSecs, quit.AutoStart, quit.AutoRestart = 0, false, supervisor.RestartNever
	eng, url := serveEngine(t, control.Options{}, enginekit.Sleeper("app"), quit)
	if err := eng.StartProcess(t.Context(), "quit", false); err != nil {
		t.Fatal(err)
	}
	eng.WaitState("quit", supervisor.Exited)
	c, err := client.New(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status", "-v"}, {"ps"}, {"status", "--verbose", "all"}} {
		out, rc := runCtl(t, c, args...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		header := regexp.MustCompile(`^NAME +STATE +PID +UPTIME +CPU% +MEM +FDS +THREADS +RESTARTS +LAST EXIT +LIMIT +HEALTH$`)
		app := regexp.MustCompile(`^app +RUNNING +\d+ +0:00:\d\d +\d+\.\d +\d+\.\d(KiB|MiB) +\d+ +\d+ +0 +- +- +-$`)
		quitRow := regexp.MustCompile(`^quit +EXITED +- +- +- +- +- +- +0 +exit 3, \w+ \d\d \d\d:\d\d:\d\d +- +-$`)
		if len(lines) != 3 || !header.MatchString(lines[0]) || !app.MatchString(lines[1]) || !quitRow.MatchString(lines[2]) || rc != statusStopped {
			t.Errorf("%v: rc %d\n%s", args, rc, out)
		}
	}
	out, rc := runCtl(t, c, "ps", "nosuch")
	if !strings.HasPrefix(out, "nosuch: ERROR (no such process)\n") || rc != statusUnknown {
		t.Errorf("ps nosuch: rc %d\n%s", rc, out)
	}
}

// status -v shows the probe's state, and once a probe killed the process,
// why; events shows the reason of that EXITED.
func TestRun_StatusVerboseHealth(t *testing.T) {
	dir := t.TempDir()
	web := enginekit.Sleeper("web")
	web.StopWait = time.Second
	web.Probe = &supervisor.ProbeSpec{Exec: "test ! -e " + dir + "/sick", Period: 50 * time.Millisecond, FailureThreshold: 1}
	eng, url := serveEngine(t, control.Options{}, web)
	c, err := client.New(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	info := func() supervisor.Info { i, _ := eng.Info("web"); return i }
	testkit.WaitFor(t, "the probe to pass", testkit.DefaultWait, func() bool { return info().Probe == "ok" })
	out, _ := runCtl(t, c, "status", "-v", "web")
	if !regexp.MustCompile(`\nweb +RUNNING .* +- +probe ok\n$`).MatchString(out) {
		t.Errorf("status -v web:\n%s", out)
	}
	os.WriteFile(dir+"/sick", nil, 0o600)
	testkit.WaitFor(t, "the probe to kill", testkit.DefaultWait, func() bool { return info().KillReason != "" })
	os.Remove(dir + "/sick")
	testkit.WaitFor(t, "the new run's probe to pass", testkit.DefaultWait, func() bool { return info().Probe == "ok" })
	reason := `probe failed once: exec "test ! -e ` + dir + `/sick": exit status 1`
	out, _ = runCtl(t, c, "status", "-v", "web")
	if !strings.HasSuffix(out, " probe ok; last kill: "+reason+"\n") {
		t.Errorf("status -v web after the kill:\n%s", out)
	}
	out, _ = runCtl(t, c, "events", "web")
	if !strings.Contains(out, " web RUNNING -> EXITED pid ") || !strings.Contains(out, " SIGTERM: "+reason+"\n") {
		t.Errorf("events web:\n%s", out)
	}
}

// events prints each state change with its exit and reason, and names
// select the processes.
func TestRun_Events(t *testing.T) {
	perm := supervisor.NewSpec("perm", "sh", "-c", "exit 125")
	perm.StartSecs, perm.AutoStart, perm.PermanentExitCodes = 0, false, []int{125}
	eng, url := serveEngine(t, control.Options{}, enginekit.Sleeper("app"), perm)
	eng.StartProcess(t.Context(), "perm", false)
	eng.WaitState("perm", supervisor.Fatal)
	c, err := client.New(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	out, rc := runCtl(t, c, "events", "perm")
	stamp := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} `
	want := regexp.MustCompile(`^` + stamp + `perm STOPPED -> STARTING\n` +
		stamp + `perm STARTING -> RUNNING pid \d+\n` +
		stamp + `perm RUNNING -> EXITED pid \d+ exit 125\n` +
		stamp + `perm EXITED -> FATAL exit 125: exit status 125 is permanent \(permanent_exitcodes\)\n$`)
	if !want.MatchString(out) || rc != 0 {
		t.Errorf("events perm: rc %d\n%s", rc, out)
	}
	if out, _ := runCtl(t, c, "events"); !strings.Contains(out, " app STARTING -> RUNNING pid ") {
		t.Errorf("events:\n%s", out)
	}
	out, _ = runCtl(t, c, "events", "--json", "perm")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := regexp.MustCompile(`^\{"time":\d+(\.\d+)?,"name":"perm","group":"perm","from":"EXITED","to":"FATAL","exit_code":125,"reason":"exit status 125 is permanent \(permanent_exitcodes\)"\}$`)
	if len(lines) != 4 || !last.MatchString(lines[3]) {
		t.Errorf("events --json perm:\n%s", out)
	}
}

// events -f prints the changes made after it started, as they happen,
// and only those of the names given; Ctrl-C (the context) ends it.
func TestRun_EventsFollow(t *testing.T) {
	eng, url := serveEngine(t, control.Options{}, enginekit.Sleeper("app"), enginekit.Sleeper("other"))
	c, err := client.New(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out testkit.Buffer
	done := make(chan int)
	go func() { done <- RunCommand(ctx, c, []string{"events", "-f", "app"}, &out, &out) }()
	// The follower is connected once a change it sees is printed: restart
	// until one is (the first restart may come before it subscribed).
	testkit.WaitFor(t, "a followed restart", 0, func() bool {
		if strings.Contains(out.String(), " app STOPPING -> STOPPED") {
			return true
		}
		eng.StopProcess(context.Background(), "other", true)
		eng.StopProcess(context.Background(), "app", true)
		eng.StartProcess(context.Background(), "app", true)
		return false
	})
	testkit.WaitFor(t, "app RUNNING again", 0, func() bool { return strings.Contains(out.String(), " app STARTING -> RUNNING pid ") })
	cancel()
	<-done
	if s := out.String(); strings.Contains(s, " other ") {
		t.Errorf("events -f app printed another process:\n%s", s)
	}
}

// A process waiting for what it requires says so in status (after
// supervisord's description) and in the last column of status -v.
func TestRun_StatusShowsWaiting(t *testing.T) {
	db := supervisor.NewSpec("db", "sleep", "1000")
	db.StartSecs, db.AutoStart = time.Minute, false // STARTING for the whole test
	web := enginekit.Sleeper("web")
	web.AutoStart, web.Requires = false, supervisor.Requirements{{Name: "db"}}
	eng, url := serveEngine(t, control.Options{}, db, web)
	if err := eng.StartProcess(t.Context(), "web", false); err != nil {
		t.Fatal(err)
	}
	eng.WaitState("db", supervisor.Starting)
	c, err := client.New(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := runCtl(t, c, "status", "web")
	if !regexp.MustCompile(`^web +STOPPED +Not started, waiting for db \(running\)\n$`).MatchString(out) {
		t.Errorf("status web:\n%s", out)
	}
	out, _ = runCtl(t, c, "status", "-v", "web")
	if !regexp.MustCompile(`(?m)^web +STOPPED .* waiting for db \(running\) +-$`).MatchString(out) {
		t.Errorf("status -v web:\n%s", out)
	}
}
