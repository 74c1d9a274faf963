package repl

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/top"
)

// topPrograms is what the top tests supervise: a CPU burner (niced, the
// machine is shared), a process holding about 20 MB, two idle sleepers
// and one program that is not started.
const topPrograms = `
program "burner" { command = "nice -n 19 sh -c 'while :; do :; done'", startsecs = 0 }
program "big" { command = [[sh -c 'x=$(head -c 20000000 /dev/zero | tr "\0" a); sleep 1000']], startsecs = 0,
  stopasgroup = true, killasgroup = true }
program "sleeper" { command = "sleep 1000", startsecs = 0, numprocs = 2, process_name = "%(program_name)s_%(process_num)d" }
program "idle" { command = "sleep 1000", autostart = false }
`

// topRunning are the processes of topPrograms that start.
var topRunning = []string{"burner", "big", "sleeper:sleeper_0", "sleeper:sleeper_1"}

func TestParseTopArgs(t *testing.T) {
	tests := []struct {
		args  []string
		want  topArgs
		error string
	}{
		{args: nil, want: topArgs{}},
		{args: []string{"-d", "0.5", "web:*", "db"}, want: topArgs{opts: top.Options{Interval: 500 * time.Millisecond}, names: []string{"web:*", "db"}}},
		{args: []string{"--interval=250ms", "-n", "3"}, want: topArgs{opts: top.Options{Interval: 250 * time.Millisecond, Iterations: 3}, batch: true}},
		{args: []string{"--once", "--sort", "mem"}, want: topArgs{opts: top.Options{Iterations: 1, Sort: top.ByMem}, batch: true}},
		{args: []string{"-b", "--sort=name"}, want: topArgs{opts: top.Options{Sort: top.ByName}, batch: true}},
		{args: []string{"-d"}, error: "-d needs a value"},
		{args: []string{"-d", "0.05"}, error: "interval 0.05 is below the minimum of 100ms"},
		{args: []string{"-d", "soon"}, error: `interval "soon" is neither seconds nor a duration`},
		{args: []string{"-n", "0"}, error: `-n wants a number of snapshots >= 1, got "0"`},
		{args: []string{"--sort", "pid"}, error: `unknown sort key "pid" (want cpu, mem or name)`},
		{args: []string{"-x"}, error: "unknown option -x"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := parseTopArgs(tt.args)
			if tt.error != "" {
				if err == nil || err.Error() != tt.error {
					t.Errorf("error %v, want %q", err, tt.error)
				}
				return
			}
			if err != nil || got.opts != tt.want.opts || got.batch != tt.want.batch || !slices.Equal(got.names, tt.want.names) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// tableRows returns the rows of the table of one top snapshot (after the
// NAME header line) as their fields.
func tableRows(snapshot string) [][]string {
	var rows [][]string
	in := false
	for _, l := range strings.Split(snapshot, "\n") {
		switch {
		case strings.HasPrefix(l, "NAME "):
			in = true
		case in && strings.TrimSpace(l) != "":
			rows = append(rows, strings.Fields(l))
		}
	}
	return rows
}

// firstColumn is the first field of each row.
func firstColumn(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[0])
	}
	return out
}

// rchar is how many bytes the process has read by read(2) and friends,
// sockets and /proc included: a daemon nobody talks to reads nothing.
func rchar(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no rchar in /proc/%d/io", pid)
	return 0
}

// TestTopBatch runs tend top with its output on a pipe against a real
// daemon: snapshots, the CPU burner first, over the socket and over HTTP,
// the errors of status, and no sampling left running once top ends.
func TestTopBatch(t *testing.T) {
	port := testkit.FreePort(t)
	d := startDaemonWith(t, fmt.Sprintf(`http = { listen = "127.0.0.1:%d", username = "u", password = "p" }`, port), topPrograms, topRunning...)

	title := regexp.MustCompile(`^tend top - unix://` + regexp.QuoteMeta(d.sock) + ` - \d\d:\d\d:\d\d\n` +
		`CPU \d+\.\d%  MEM \d+ MiB  5 processes: 4 RUNNING, 1 STOPPED  sort cpu\n` +
		`NAME +STATE +PID +UPTIME +CPU% +MEM +RESTARTS +LAST EXIT\n`)
	before := rchar(t, d.pid)
	// Two snapshots half a second apart, until the burner leads the
	// second (big burns CPU too while it fills its 20 MB).
	var out bytes.Buffer
	testkit.WaitFor(t, "the burner first by CPU", 20*time.Second, func() bool {
		out.Reset()
		cmd := d.tend("top", "-n", "2", "-d", "0.5")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("tend top -n 2: %v\n%s", err, out.String())
		}
		snaps := strings.Split(out.String(), "\n\n")
		if len(snaps) != 2 || strings.Contains(out.String(), "\x1b") {
			t.Fatalf("want 2 unstyled snapshots, got %d:\n%q", len(snaps), out.String())
		}
		for i, s := range snaps {
			if !title.MatchString(s) {
				t.Fatalf("snapshot %d:\n%s", i, s)
			}
		}
		// The second snapshot's CPU % is over the half second between the two.
		rows := tableRows(snaps[1])
		if got := firstColumn(rows); len(got) != 5 || got[4] != "idle" {
			t.Fatalf("rows %q, want idle (not running) last:\n%s", got, snaps[1])
		}
		cpu, _ := strconv.ParseFloat(rows[0][4], 64)
		return rows[0][0] == "burner" && cpu >= 1
	})
	t.Logf("tend top -n 2 -d 0.5:\n%s", out.String())
	during := rchar(t, d.pid)

	// Over HTTP with credentials, sorted by memory: the 20 MB process
	// comes first (its shell may still be filling the string: poll).
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.WaitFor(t, "big first by memory over HTTP", 15*time.Second, func() bool {
		b, err := exec.Command(tendBin, "-s", url, "-u", "u", "-p", "p", "top", "--once", "--sort", "mem").CombinedOutput()
		if err != nil {
			t.Fatalf("top over HTTP: %v\n%s", err, b)
		}
		if !strings.HasPrefix(string(b), "tend top - "+url+" - ") {
			t.Fatalf("top over HTTP:\n%s", b)
		}
		rows := tableRows(string(b))
		return len(rows) == 5 && rows[0][0] == "big" && rows[0][6] == "MiB"
	})

	// Names select as in status; an unknown one fails as in status.
	b, err := d.tend("top", "sleeper:*").CombinedOutput()
	if got := firstColumn(tableRows(string(b))); err != nil || !slices.Equal(got, []string{"sleeper:sleeper_0", "sleeper:sleeper_1"}) {
		t.Errorf("top sleeper:* (%v): rows %q\n%s", err, got, b)
	}
	cmd := d.tend("top", "nosuch")
	b, _ = cmd.CombinedOutput()
	if string(b) != "nosuch: ERROR (no such process)\n" || cmd.ProcessState.ExitCode() != statusUnknown {
		t.Errorf("top nosuch: rc %d\n%s", cmd.ProcessState.ExitCode(), b)
	}
	cmd = d.tend("top", "-d", "0")
	b, _ = cmd.CombinedOutput()
	if !strings.HasPrefix(string(b), "Error: interval 0 is below the minimum of 100ms\ntop [-d SECS]") || cmd.ProcessState.ExitCode() != exitInvalidArgs {
		t.Errorf("top -d 0: rc %d\n%s", cmd.ProcessState.ExitCode(), b)
	}
	cmd = exec.Command(tendBin, "-s", "unix://"+filepath.Join(d.dir, "none.sock"), "top")
	b, _ = cmd.CombinedOutput()
	if !strings.Contains(string(b), "no such file") || cmd.ProcessState.ExitCode() != exitNotRunning {
		t.Errorf("top with no daemon: rc %d\n%s", cmd.ProcessState.ExitCode(), b)
	}

	// The daemon sampled for top's requests only: once top is gone it
	// reads nothing (no /proc, no socket) for as long as we watch.
	if during == before {
		t.Fatalf("the daemon read nothing while top ran (rchar %d): the check below would prove nothing", during)
	}
	t.Logf("the daemon read %d bytes while top ran", during-before)
	var last int64
	testkit.WaitFor(t, "the daemon to read nothing for 2s after top", 20*time.Second, func() bool {
		start := rchar(t, d.pid)
		time.Sleep(2 * time.Second)
		last = rchar(t, d.pid) - start
		return last == 0
	})
}

// TestTopTerminal drives tend top in a tmux pane: the table, sorting by
// memory, a filter, selecting and stopping a process, a resize, and q
// giving the shell back its terminal as it was.
func TestTopTerminal(t *testing.T) {
	testkit.RequireTool(t, "tmux")
	d := startDaemonWith(t, "", topPrograms, topRunning...)
	p := &tmuxPane{t: t, sock: filepath.Join(d.dir, "tmux.sock")}
	p.tmux("new-session", "-d", "-s", "repl", "-x", "120", "-y", "20", "env PS1='top-test$ ' sh")
	t.Cleanup(func() { exec.Command("tmux", "-S", p.sock, "kill-server").Run() })
	p.waitFor("the shell prompt", "", lastLineIs("top-test$"))
	p.typeLine(fmt.Sprintf("%s -s unix://%s top -d 0.5", tendBin, d.sock))

	screen := func() []string { return p.lines() }
	header := func(l []string) int {
		return slices.IndexFunc(l, func(s string) bool { return strings.HasPrefix(s, "NAME ") })
	}
	rowsOf := func(l []string) [][]string {
		i := header(l)
		if i < 0 {
			return nil
		}
		var rows [][]string
		for _, s := range l[i+1 : len(l)-1] { // the last line is the status line
			if f := strings.Fields(s); len(f) > 0 {
				rows = append(rows, f)
			}
		}
		return rows
	}
	wait := func(what string, ok func(rows [][]string, lines []string) bool) []string {
		t.Helper()
		return p.waitFor(what, "", func(l []string) bool { return ok(rowsOf(l), l) })
	}

	// The table, the burner first by CPU, the keys on the last line.
	wait("the table sorted by CPU", func(rows [][]string, l []string) bool {
		return len(rows) == 5 && rows[0][0] == "burner" && strings.HasPrefix(l[len(l)-1], "q quit") &&
			strings.HasPrefix(l[0], "tend top - unix://"+d.sock) && strings.HasPrefix(l[header(l)], "NAME               STATE")
	})
	if len(screen()) != 20 {
		t.Errorf("top drew %d lines on a 20-line pane", len(screen()))
	}

	// m: by memory, the 20 MB process first.
	p.send("m")
	wait("big first by memory", func(rows [][]string, l []string) bool {
		return len(rows) == 5 && rows[0][0] == "big" && strings.Contains(l[1], "sort mem")
	})

	// A filter, typed then kept, shows the two sleepers; sorted by name,
	// j selects the second, S stops it.
	p.send("n", "/")
	p.tmux("send-keys", "-t", "repl", "-l", "sleep")
	wait("the filter", func(rows [][]string, l []string) bool {
		return slices.Equal(firstColumn(rows), []string{"sleeper:sleeper_0", "sleeper:sleeper_1"}) &&
			strings.HasPrefix(l[len(l)-1], "filter: sleep_")
	})
	p.send("Enter", "g", "j", "S")
	wait("sleeper_1 stopped", func(rows [][]string, l []string) bool {
		return len(rows) == 2 && rows[1][0] == "sleeper:sleeper_1" && rows[1][1] == "STOPPED" &&
			rows[0][1] == "RUNNING" && l[len(l)-1] == "sleeper:sleeper_1: stopped"
	})
	if out, _ := d.tend("status", "sleeper:sleeper_1").Output(); !strings.Contains(string(out), "STOPPED") {
		t.Errorf("status after S: %s", out)
	}
	if out, _ := d.tend("status", "sleeper:sleeper_0").Output(); !strings.Contains(string(out), "RUNNING") {
		t.Errorf("the other sleeper is not running: %s", out)
	}
	// U starts it again.
	p.send("U")
	wait("sleeper_1 started", func(rows [][]string, l []string) bool {
		return len(rows) == 2 && rows[1][1] == "RUNNING" && l[len(l)-1] == "sleeper:sleeper_1: started"
	})

	// Narrower: the table is drawn again for 50 columns, the last columns
	// dropped and no line wrapped; wider: they come back.
	p.send("Escape")
	p.tmux("resize-window", "-t", "repl", "-x", "50", "-y", "12")
	wait("the table at 50 columns", func(rows [][]string, l []string) bool {
		h := header(l)
		return len(l) == 12 && h >= 0 && strings.Fields(l[h])[len(strings.Fields(l[h]))-1] == "MEM" &&
			len(rows) == 5 && !slices.ContainsFunc(rows, func(r []string) bool { return !strings.Contains("RUNNING STOPPED", r[1]) })
	})
	p.tmux("resize-window", "-t", "repl", "-x", "140", "-y", "20")
	wait("the table at 140 columns", func(rows [][]string, l []string) bool {
		h := header(l)
		return h >= 0 && strings.HasSuffix(l[h], "RESTARTS  LAST EXIT") && len(rows) == 5
	})
	t.Logf("pane:\n%s", strings.Join(screen(), "\n"))

	// q: the shell's screen is back, top's is gone, and the terminal is
	// in its cooked mode again.
	p.send("q")
	p.waitFor("the prompt after q", "", lastLineIs("top-test$"))
	if header(screen()) >= 0 {
		t.Errorf("top's table is still on the screen after q:\n%s", strings.Join(screen(), "\n"))
	}
	p.typeLine("stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo")
	p.waitFor("stty's modes", "", func(l []string) bool {
		return len(l) >= 2 && l[len(l)-1] == "top-test$" && l[len(l)-2] == "icanon echo"
	})
}
