package top

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor/control"
)

// openPty returns the two ends of a new pseudo-terminal, closed when the
// test ends.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// screen is what a terminal shows of top's output: it knows the few
// sequences top writes (cursor to row, erase line, erase below, clear,
// styles and modes, which it drops).
type screen struct {
	mu      sync.Mutex
	rows    map[int]string
	row     int
	raw     strings.Builder // everything written
	pending []byte          // an escape sequence cut between reads
}

var sequence = regexp.MustCompile(`^\x1b\[([?0-9;]*)([A-Za-z])`)

// write interprets b.
func (s *screen) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw.Write(b)
	data := string(append(s.pending, b...))
	s.pending = nil
	for len(data) > 0 {
		if data[0] != 0x1b {
			i := strings.IndexByte(data, 0x1b)
			if i < 0 {
				i = len(data)
			}
			s.rows[s.row] += data[:i]
			data = data[i:]
			continue
		}
		m := sequence.FindStringSubmatch(data)
		if m == nil {
			s.pending = []byte(data) // the rest comes with the next read
			return
		}
		data = data[len(m[0]):]
		switch {
		case m[2] == "H":
			r, _, _ := strings.Cut(m[1], ";")
			s.row, _ = strconv.Atoi(r)
		case m[2] == "K" && m[1] == "2":
			s.rows[s.row] = ""
		case m[2] == "J" && m[1] == "2":
			s.rows = map[int]string{}
		case m[2] == "J":
			for r := range s.rows {
				if r >= s.row {
					delete(s.rows, r)
				}
			}
		}
	}
}

// written returns everything written so far.
func (s *screen) written() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

// lines returns rows 1 to n.
func (s *screen) lines(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, n)
	for i := range out {
		out[i] = visible(s.rows[i+1])
	}
	return out
}

// fakeDaemon serves a fixed table; stop and start change a process's
// state as the daemon would, and fail makes Usage fail.
type fakeDaemon struct {
	mu    sync.Mutex
	procs []control.ProcessUsage
	acts  []string
	fail  error
	hang  bool // Usage waits for its context
}

func (d *fakeDaemon) Usage(ctx context.Context) ([]control.ProcessUsage, error) {
	d.mu.Lock()
	hang, fail := d.hang, d.fail
	procs := append([]control.ProcessUsage(nil), d.procs...)
	d.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return procs, fail
}

func (d *fakeDaemon) Act(_ context.Context, verb, name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acts = append(d.acts, verb+" "+name)
	for i, p := range d.procs {
		if namespec(p) == name && verb == "stop" {
			d.procs[i].StateName, d.procs[i].Pid = "STOPPED", 0
		}
	}
	return name + ": " + verb + "ped"
}

func (d *fakeDaemon) set(f func(d *fakeDaemon)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

// ptyTop is top running on a pseudo-terminal for a test.
type ptyTop struct {
	t             *testing.T
	master, slave *os.File
	before        *unix.Termios // the terminal's modes before top
	scr           *screen
	rows          int
	done          chan error
}

// startTop runs the live view over d on a new pseudo-terminal of cols x
// rows, with an hour between refreshes: only keys, answers and signals
// draw.
func startTop(t *testing.T, d Daemon, cols, rows int) *ptyTop {
	master, slave := openPty(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyTop{t: t, master: master, slave: slave, before: before, scr: &screen{rows: map[int]string{}}, rows: rows, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if err != nil {
				return
			}
			p.scr.write(buf[:n])
		}
	}()
	go func() {
		p.done <- interactive(t.Context(), d, slave, slave, Options{Interval: time.Hour, Address: "unix:///test.sock"}, 200*time.Millisecond)
	}()
	return p
}

// wait polls the screen until ok holds for its lines.
func (p *ptyTop) wait(what string, ok func(l []string) bool) []string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := p.scr.lines(p.rows)
		if ok(l) {
			return l
		}
		select {
		case err := <-p.done:
			p.t.Fatalf("top ended (%v) while waiting for %s; screen:\n%s", err, what, strings.Join(l, "\n"))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s; screen:\n%s", what, strings.Join(l, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keys types s on the terminal.
func (p *ptyTop) keys(s string) {
	p.t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

// TestInteractive runs the live view on a pseudo-terminal: raw mode and
// the alternate screen while it runs, the table drawn and redrawn in
// place, keys, an action, a resize, a daemon that fails or hangs, and q
// putting the terminal back.
func TestInteractive(t *testing.T) {
	d := &fakeDaemon{procs: sample()}
	p := startTop(t, d, 100, 12)
	scr, waitScreen, typeKeys, done, slave, before := p.scr, p.wait, p.keys, p.done, p.slave, p.before

	l := waitScreen("the table", func(l []string) bool {
		return strings.HasPrefix(l[0], "tend top - unix:///test.sock - every 1h0m0s") && strings.HasPrefix(l[3], "burner ") && l[11] == helpLine
	})
	if w := scr.written(); !strings.HasPrefix(w, enterScreen) {
		t.Errorf("top did not begin with the alternate screen: %q", w[:min(40, len(w))])
	}
	if tio, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("the terminal is not in raw mode while top runs: lflag %#x", tio.Lflag)
	}
	t.Logf("screen:\n%s", strings.Join(l, "\n"))

	// Sort by memory, filter, select: each redraws in place.
	typeKeys("m")
	waitScreen("sort by memory", func(l []string) bool { return strings.HasPrefix(l[3], "web:web_00 ") })
	typeKeys("/web_01\r")
	waitScreen("the filter", func(l []string) bool {
		return strings.HasPrefix(l[3], "web:web_01 ") && l[4] == "" && strings.Contains(l[1], `filter "web_01"`)
	})
	typeKeys("\x1b")
	waitScreen("the filter cleared", func(l []string) bool { return strings.HasPrefix(l[7], "idle ") })

	// S stops the selected process (web:web_01, picked by the filter and
	// still selected without it); the answer shows and the table is
	// fetched again.
	typeKeys("S")
	waitScreen("the stop", func(l []string) bool {
		return l[11] == "web:web_01: stopped" && strings.Contains(l[1], "2 RUNNING, 2 STOPPED") && strings.HasPrefix(l[5], "web:web_01  STOPPED")
	})
	d.set(func(d *fakeDaemon) {
		if len(d.acts) != 1 || d.acts[0] != "stop web:web_01" {
			t.Errorf("actions %q, want one stop of web:web_01", d.acts)
		}
	})

	// A resize: SIGWINCH redraws for 50 columns.
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 10, Col: 50}); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	waitScreen("the table at 50 columns", func(l []string) bool {
		return regexp.MustCompile(`^NAME +STATE +PID +UPTIME +CPU% +MEM *$`).MatchString(l[2]) && l[9] == "web:web_01: stopped" && l[10] == ""
	})

	// A failing daemon: the table stays and the error shows; then a
	// daemon that does not answer within the timeout.
	d.set(func(d *fakeDaemon) { d.fail = errors.New("connection refused") })
	typeKeys(" ")
	waitScreen("the error", func(l []string) bool {
		return l[9] == "error: connection refused" && strings.HasPrefix(l[3], "web:web_00")
	})
	d.set(func(d *fakeDaemon) { d.fail, d.hang = nil, true })
	typeKeys(" ")
	waitScreen("the timeout", func(l []string) bool { return l[9] == "error: no answer from the daemon within 200ms" })
	d.set(func(d *fakeDaemon) { d.hang = false })
	typeKeys(" ")
	waitScreen("the daemon back", func(l []string) bool { return l[9] == helpLine[:50] })

	// q: the terminal is as it was.
	typeKeys("q")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("top returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("top did not end on q")
	}
	after, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal modes after top:\n%+v\nwant as before:\n%+v", *after, *before)
	}
	testkit.WaitFor(t, "top to leave the alternate screen last", 10*time.Second, func() bool {
		return strings.HasSuffix(scr.written(), leaveScreen)
	})
}

// TestInteractiveEnds: top ends with its context (Ctrl-C delivered as
// SIGINT to the command line, or the REPL's cancel) and restores the
// terminal; a daemon that does not answer at first is an error before the
// terminal is touched.
func TestInteractiveEnds(t *testing.T) {
	master, slave := openPty(t)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	before, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)

	d := &fakeDaemon{fail: errors.New("refused")}
	if err := Interactive(t.Context(), d, slave, slave, Options{}); err == nil || err.Error() != "refused" {
		t.Errorf("first fetch failing: %v", err)
	}

	d.set(func(d *fakeDaemon) { d.fail, d.procs = nil, sample() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Interactive(ctx, d, slave, slave, Options{}) }()
	testkit.WaitFor(t, "raw mode", 10*time.Second, func() bool {
		tio, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		return tio.Lflag&unix.ICANON == 0
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("top returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("top did not end with its context")
	}
	if after, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); *after != *before {
		t.Errorf("terminal modes after top: %+v, want %+v", *after, *before)
	}
}

// TestActionShowsItsResult: an action that answers while a refresh is on
// its way (that refresh may have left before the action took effect) is
// followed by another refresh, so the table shows what it did.
func TestActionShowsItsResult(t *testing.T) {
	gate := make(chan struct{})
	d := &gatedDaemon{fakeDaemon: fakeDaemon{procs: sample()}, gate: gate}
	p := startTop(t, d, 100, 12)
	p.wait("the table", func(l []string) bool { return strings.HasPrefix(l[3], "burner  ") })
	d.set(func(*fakeDaemon) { d.gated = true })
	p.keys(" ") // a refresh, held at the gate with the old table
	testkit.WaitFor(t, "the refresh to reach the daemon", 10*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.waiting > 0
	})
	p.keys("S") // burner stops at once
	p.wait("the stop's answer", func(l []string) bool { return l[11] == "burner: stopped" })
	d.set(func(*fakeDaemon) { d.gated = false })
	close(gate) // the first refresh brings the table from before the stop
	p.wait("burner STOPPED", func(l []string) bool { return strings.Contains(l[1], "2 RUNNING, 2 STOPPED") })
}

// gatedDaemon holds its Usage calls at gate while gated.
type gatedDaemon struct {
	fakeDaemon
	gate    chan struct{}
	gated   bool
	waiting int
}

func (d *gatedDaemon) Usage(ctx context.Context) ([]control.ProcessUsage, error) {
	d.mu.Lock()
	procs, gated := append([]control.ProcessUsage(nil), d.procs...), d.gated
	if gated {
		d.waiting++
	}
	d.mu.Unlock()
	if gated {
		<-d.gate
	}
	return procs, nil
}
