package main

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// The versions of the two tends the re-exec tests switch between.
const (
	versionA = "9.0.0-reexec-a"
	versionB = "9.0.0-reexec-b"
)

var twoTends struct {
	once sync.Once
	a, b string
	err  error
}

// reexecBuilds builds (once) two tends that differ only in their stamped
// version, beside tendBin.
func reexecBuilds(t *testing.T) (a, b string) {
	t.Helper()
	twoTends.once.Do(func() {
		dir := filepath.Dir(tendBin)
		if twoTends.a, twoTends.err = testkit.BuildTendVersion(filepath.Join(dir, "tend-a"), versionA); twoTends.err == nil {
			twoTends.b, twoTends.err = testkit.BuildTendVersion(filepath.Join(dir, "tend-b"), versionB)
		}
	})
	if twoTends.err != nil {
		t.Fatal(twoTends.err)
	}
	return twoTends.a, twoTends.b
}

// counters is a config of n programs, each writing numbered lines (one
// number a line, from 1) to its own log, which rotates every few KB. The
// last two go through log_prefix (a framed stream, read by a goroutine of
// its own rather than the pump), their lines prefixed "[NAME] ".
func counters(dir string, n int) string {
	const loop = `'i=0; j=0; while :; do i=$((i+1)); echo $i; j=$((j+1)); if [ $j -ge 25 ]; then j=0; sleep 0.02; fi; done'`
	return fmt.Sprintf(`
program "count" {
  command = { "/bin/sh", "-c", %[1]s },
  numprocs = %[2]d, process_name = "count_%%(process_num)02d", startsecs = 0,
  stdout_logfile = %[3]q, stdout_logfile_maxbytes = "16KB", stdout_logfile_backups = 1000,
  log_prefix = function(p) if p.num >= %[4]d then return "[" .. p.name .. "] " end return "" end,
}
`, loop, n, filepath.Join(dir, "count_%(process_num)02d.log"), n-2)
}

// logOf is the log file of a counters process ("count:count_00").
func logOf(dir, name string) string {
	return filepath.Join(dir, strings.TrimPrefix(name, "count:")+".log")
}

// procStart reads a process's start time (/proc/PID/stat field 22).
func procStart(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[19]
}

// identities returns "pid/start time" of each named process.
func (d *testDaemon) identities(names []string) map[string]string {
	d.t.Helper()
	out := map[string]string{}
	for name, pid := range d.pids(names...) {
		out[name] = strconv.Itoa(pid) + "/" + procStart(d.t, pid)
	}
	return out
}

var reexecDone = regexp.MustCompile(`^re-executed tend \(pid (\d+)\): \S+ -> (\S+) in ([0-9.]+) ms\n$`)

// reexec runs tend reexec --binary bin and checks that the daemon now runs
// version want; it returns the window the daemon reports.
func (d *testDaemon) reexec(bin, want string) float64 {
	d.t.Helper()
	out, rc := d.ctl("reexec", "--binary", bin)
	m := reexecDone.FindStringSubmatch(out)
	if rc != 0 || m == nil || m[2] != want || m[1] != strconv.Itoa(d.cmd.Process.Pid) {
		d.t.Fatalf("reexec --binary %s: rc %d, %q; want version %s under pid %d", bin, rc, out, want, d.cmd.Process.Pid)
	}
	if v, _ := d.ctl("version"); strings.TrimSpace(v) != want {
		d.t.Fatalf("version after reexec: %q, want %s", v, want)
	}
	ms, _ := strconv.ParseFloat(m[3], 64)
	if ms <= 0 {
		d.t.Fatalf("reexec reported a window of %q ms: the status was read before the new binary served", m[3])
	}
	return ms
}

// checkSequence reads a log and its rotated backups (oldest first) and
// checks they hold the numbers 1..last once each, in order; rotated says
// the log must have rotated at least once.
func checkSequence(t *testing.T, path string, rotated bool) int {
	t.Helper()
	files, _ := filepath.Glob(path + ".*")
	slices.SortFunc(files, func(a, b string) int { // path.N: the highest N is the oldest
		na, _ := strconv.Atoi(a[strings.LastIndexByte(a, '.')+1:])
		nb, _ := strconv.Atoi(b[strings.LastIndexByte(b, '.')+1:])
		return nb - na
	})
	want := 1
	for _, f := range append(files, path) {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, "] "); ok && strings.HasPrefix(line, "[count_") {
				line = rest // a log_prefix program's line
			}
			if line != strconv.Itoa(want) {
				fh.Close()
				t.Fatalf("%s: got %q where %d was due (a line lost or written twice)", f, sc.Text(), want)
			}
			want++
		}
		fh.Close()
	}
	if rotated && len(files) == 0 {
		t.Errorf("%s never rotated: the test means to carry a rotating log across re-execs", path)
	}
	return want - 1
}

// Issue 14: 12 programs writing numbered lines, through consecutive
// re-execs between two builds: same pids and start times, the version
// switches each time, and every log holds every line exactly once.
func TestE2E_ReexecKeepsProcessesAndLogs(t *testing.T) {
	a, b := reexecBuilds(t)
	dir := t.TempDir()
	const n = 12
	d := startDaemonIn(t, dir, "", counters(dir, n))
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("count:count_%02d", i))
	}
	for _, name := range names {
		d.waitStatus(name, "RUNNING")
	}
	before := d.identities(names)
	size := func() int64 {
		var total int64
		for _, name := range names {
			if st, err := os.Stat(logOf(dir, name)); err == nil {
				total += st.Size()
			}
		}
		return total
	}
	var windows []float64
	for i, bin := range []string{a, b, a, b, a, b} {
		want := versionA
		if bin == b {
			want = versionB
		}
		was := size()
		windows = append(windows, d.reexec(bin, want))
		if now := d.identities(names); !maps.Equal(now, before) {
			t.Fatalf("after re-exec %d: pid/start time %v, want %v", i+1, now, before)
		}
		// Lines keep flowing into the logs after each re-exec.
		waitFor(t, "the logs growing", func() bool { return size() != was })
	}
	if out, rc := d.ctl("stop", "all"); rc != 0 {
		t.Fatalf("stop all: %d %s", rc, out)
	}
	for _, name := range names {
		last := checkSequence(t, logOf(dir, name), true)
		if last < 100 {
			t.Errorf("%s: only %d lines", name, last)
		}
	}
	if log := d.log(); strings.Count(log, "re-exec done: tend ") != 6 {
		t.Errorf("the log does not report 6 re-execs:\n%s", log)
	}
	slices.Sort(windows)
	t.Logf("re-exec window over %d re-execs of %d programs: min %.1f ms, median %.1f ms, max %.1f ms",
		len(windows), n, windows[0], windows[len(windows)/2], windows[len(windows)-1])
}

// holdDaemon starts a daemon whose re-execs stop inside their window until
// the test says go (the hold hook of package daemon), and whose resume
// fails in a binary of version failVersion ("" = never).
func holdDaemon(t *testing.T, dir, failVersion, body string) (*testDaemon, string) {
	t.Helper()
	hold := filepath.Join(dir, "hold")
	if err := os.Mkdir(hold, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"env", "TEND_TEST_REEXEC_HOLD=" + hold}
	if failVersion != "" {
		env = append(env, "TEND_TEST_RESUME_FAIL="+failVersion)
	}
	return startDaemonVia(t, env, dir, "", body), hold
}

// startReexec starts tend reexec in the background; wait collects its
// output and exit code.
func (d *testDaemon) startReexec(args ...string) (wait func() (string, int)) {
	d.t.Helper()
	cmd := exec.Command(tendBin, append([]string{"-c", d.config, "reexec"}, args...)...)
	out := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	return func() (string, int) {
		cmd.Wait()
		return out.String(), cmd.ProcessState.ExitCode()
	}
}

// reexecHeld runs tend reexec ARGS on a holdDaemon: if the re-exec gets
// to the hold point, during (if not nil) runs there, then the re-exec
// goes on. It returns the command's output and exit code.
func (d *testDaemon) reexecHeld(hold string, during func(), args ...string) (string, int) {
	d.t.Helper()
	wait := d.startReexec(args...)
	type result struct {
		out string
		rc  int
	}
	done := make(chan result, 1)
	go func() { out, rc := wait(); done <- result{out, rc} }()
	frozen := filepath.Join(hold, "frozen")
	for {
		select {
		case r := <-done:
			return r.out, r.rc
		case <-time.After(10 * time.Millisecond):
		}
		if _, err := os.Stat(frozen); err == nil {
			os.Remove(frozen)
			if during != nil {
				during()
			}
			os.WriteFile(filepath.Join(hold, "go"), nil, 0o644)
		}
	}
}

// zombie reports whether pid exited and was not reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

// Issue 14: a child that exits while the daemon is frozen for a re-exec
// stays a zombie (the old binary does not reap it); the new binary reaps
// it with its true exit status, reports it once and restarts it.
func TestE2E_ReexecReapsExitInWindow(t *testing.T) {
	_, b := reexecBuilds(t)
	dir := t.TempDir()
	trigger := filepath.Join(dir, "trigger")
	d, hold := holdDaemon(t, dir, "", fmt.Sprintf(`
program "quitter" { command = { "/bin/sh", "-c", 'while [ ! -e %s ]; do sleep 0.05; done; exit 7' }, startsecs = 0, autorestart = true }
program "steady" { command = "sleep 1000", startsecs = 0 }
`, trigger))
	d.waitStatus("quitter", "RUNNING")
	d.waitStatus("steady", "RUNNING")
	old := d.pids("quitter", "steady")

	wait := d.startReexec("--binary", b)
	waitFor(t, "the daemon frozen", func() bool { _, err := os.Stat(filepath.Join(hold, "frozen")); return err == nil })
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "quitter exited and unreaped", func() bool { return zombie(old["quitter"]) })
	os.Remove(trigger)
	os.WriteFile(filepath.Join(hold, "go"), nil, 0o644)
	if out, rc := wait(); rc != 0 || !strings.Contains(out, "-> "+versionB) {
		t.Fatalf("reexec: rc %d, %q", rc, out)
	}

	waitFor(t, "quitter restarted", func() bool {
		pid, err := strconv.Atoi(d.pidOf("quitter"))
		return err == nil && pid > 0 && pid != old["quitter"]
	})
	d.waitStatus("quitter", "RUNNING")
	if pid := d.pids("steady")["steady"]; pid != old["steady"] {
		t.Errorf("steady: pid %d, want %d untouched", pid, old["steady"])
	}
	if zombie(old["quitter"]) {
		t.Errorf("pid %d is still a zombie", old["quitter"])
	}
	log := d.log()
	if got := strings.Count(log, "exited: quitter (exit status 7; not expected)"); got != 1 {
		t.Errorf("the exit is reported %d times, want once with its true status:\n%s", got, log)
	}
	events, _ := d.ctl("events", "--json", "quitter")
	if got := strings.Count(events, `"to":"EXITED"`); got != 1 {
		t.Errorf("events: %d EXITED, want 1:\n%s", got, events)
	}
}

// Issue 14: a re-exec that cannot happen leaves the daemon as it was: the
// same version, pids and logs, a door that opens again, and the command
// fails with the reason. A binary that fails after its check falls back to
// the previous one, which reports why.
func TestE2E_ReexecFailureKeepsDaemon(t *testing.T) {
	a, b := reexecBuilds(t)
	dir := t.TempDir()
	d, hold := holdDaemon(t, dir, versionB, counters(dir, 2))
	names := []string{"count:count_00", "count:count_01"}
	for _, name := range names {
		d.waitStatus(name, "RUNNING")
	}
	before := d.identities(names)
	if out, rc := d.reexecHeld(hold, nil, "--binary", a); rc != 0 { // from the test's build to A
		t.Fatalf("reexec: rc %d, %q", rc, out)
	}

	notExec := filepath.Join(dir, "not-exec")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	broken := filepath.Join(dir, "tend-broken")
	if data, err := os.ReadFile(a); err != nil || os.WriteFile(broken, data, 0o755) != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, bin, want string
		during          func() // at the hold point
	}{
		{"false", "/bin/false", `ERROR: re-exec refused: /bin/false cannot resume this daemon \((exit status 1|it gave no answer to --check-resume)\)`, nil},
		{"missing", filepath.Join(dir, "nonexistent"), `ERROR: re-exec refused: binary .*/nonexistent: stat .*: no such file or directory`, nil},
		{"not executable", notExec, `ERROR: re-exec refused: binary .*/not-exec is not executable`, nil},
		{"exec fails", broken, `ERROR: re-exec failed, the daemon goes on as version ` + versionA + ` \(pid \d+\): exec .*/tend-broken: permission denied`,
			func() { os.Chmod(broken, 0o644) }},
		{"resume fails", b, `ERROR: re-exec failed, the daemon goes on as version ` + versionA + ` \(pid \d+\): resume failed on purpose .*`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, rc := d.reexecHeld(hold, tt.during, "--binary", tt.bin)
			if rc != 1 || !regexp.MustCompile(`^`+tt.want+`\n$`).MatchString(out) {
				t.Errorf("reexec --binary %s: rc %d, %q; want rc 1 and %s", tt.bin, rc, out, tt.want)
			}
			if v, _ := d.ctl("version"); strings.TrimSpace(v) != versionA {
				t.Errorf("version %q, want %s", v, versionA)
			}
			if now := d.identities(names); !maps.Equal(now, before) {
				t.Errorf("pid/start time %v, want %v", now, before)
			}
		})
	}
	if out, rc := d.reexecHeld(hold, nil, "--binary", a); rc != 0 || !strings.Contains(out, "-> "+versionA) {
		t.Fatalf("reexec after the failures: rc %d, %q", rc, out) // nothing was left half done
	}
	if out, rc := d.ctl("stop", "all"); rc != 0 {
		t.Fatalf("stop all: %d %s", rc, out)
	}
	for _, name := range names {
		checkSequence(t, logOf(dir, name), false)
	}
}

// Issue 14: supervisorctl sees the same processes before and after a
// re-exec: names, states, pids, start times (the uptime it prints moves
// on, so it is compared through the pid's start time instead).
func TestE2E_ReexecSupervisorctlStatus(t *testing.T) {
	sctl := testkit.RequireTool(t, "supervisorctl")
	_, b := reexecBuilds(t)
	d := startDaemon(t, programs)
	for _, name := range []string{"app", "web:web_00", "web:web_01", "web:web_02", "echoer"} {
		d.waitStatus(name, "RUNNING")
	}
	waitFor(t, "fails settled", func() bool { out, _ := d.ctl("status", "fails"); return strings.Contains(out, "FATAL") })
	uptime := regexp.MustCompile(`uptime \d+:\d\d:\d\d`)
	status := func() string {
		out, err := exec.Command(sctl, "-s", "unix://"+filepath.Join(d.dir, "tend.sock"), "status").CombinedOutput()
		if err != nil && !strings.Contains(err.Error(), "exit status 3") { // 3: some process is not running
			t.Fatalf("supervisorctl status: %v\n%s", err, out)
		}
		return uptime.ReplaceAllString(string(out), "uptime -")
	}
	before, starts := status(), d.identities([]string{"app", "echoer"})
	d.reexec(b, versionB)
	if after := status(); after != before {
		t.Errorf("supervisorctl status after re-exec:\n%s\nbefore:\n%s", after, before)
	}
	if now := d.identities([]string{"app", "echoer"}); !maps.Equal(now, starts) {
		t.Errorf("pid/start time %v, want %v", now, starts)
	}
	t.Logf("supervisorctl status, identical before and after:\n%s", before)
}

// TestE2E_ReexecKeepsHeldSockets: a socket tend holds (sockets = {}) is
// carried across re-execs: clients connecting all the time are all
// served by the same instance while tend re-execs twice, and after that a
// restart gives the new instance the same socket, not a new bind (which
// would fail, the address being in use by the carried one).
func TestE2E_ReexecKeepsHeldSockets(t *testing.T) {
	a, b := reexecBuilds(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	d := startDaemon(t, fmt.Sprintf(`program "web" {
  command = { %q }, startsecs = 0,
  environment = { %s = "1" },
  sockets = { http = "tcp://%s" },
}`, os.Args[0], listenRoleEnv, addr))
	d.waitStatus("web", "RUNNING")
	pid := d.pidOf("web")
	l := startSocketLoad(addr)
	waitFor(t, "clients served", func() bool { return l.total() > 20 })
	for _, bin := range []struct{ path, version string }{{a, versionA}, {b, versionB}} {
		d.reexec(bin.path, bin.version)
		now := l.total()
		waitFor(t, "clients served after the re-exec", func() bool { return l.total() > now+20 })
	}
	if now := d.pidOf("web"); now != pid {
		t.Fatalf("web was pid %s, now %s", pid, now)
	}
	if out, rc := d.ctl("restart", "web"); rc != 0 {
		t.Fatalf("restart web after the re-execs: rc %d %s", rc, out)
	}
	d.waitStatus("web", "RUNNING")
	now := l.total()
	waitFor(t, "clients served by the restarted instance", func() bool { return l.total() > now+20 })
	l.finish(t)
	if newPid := d.pidOf("web"); newPid == pid || l.served[newPid] == 0 {
		t.Errorf("after the restart web is pid %s (was %s), which served %d connections", newPid, pid, l.served[newPid])
	}
}
