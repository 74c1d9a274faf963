package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor/control"
)

// fakeDaemon records what the REPL sends and answers like a daemon.
type fakeDaemon struct {
	mu    sync.Mutex
	calls []string // "eval <chunk>" or "run <args>"
	block chan struct{}
	// started is signalled when a blocking Eval begins.
	started chan struct{}
}

func (f *fakeDaemon) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeDaemon) Eval(ctx context.Context, chunk string) (string, error) {
	f.record("eval " + chunk)
	switch chunk {
	case "return 1+1":
		return "2", nil
	case "print('hi')":
		return "hi\n", nil
	case "block()":
		f.started <- struct{}{}
		<-ctx.Done()
		return "", fmt.Errorf("eval: %w", ctx.Err())
	}
	if Incomplete(chunk) || strings.Contains(chunk, `"abc`) {
		return "", errors.New("<repl>:1: syntax error")
	}
	return "", nil
}

func (f *fakeDaemon) Complete(context.Context) (control.CompleteReply, error) {
	return control.CompleteReply{Processes: []string{"sleeper"}, Globals: []string{"sv"}}, nil
}

func (f *fakeDaemon) Run(ctx context.Context, args []string, st Streams) int {
	f.record("run " + strings.Join(args, " "))
	stdout := st.Out
	if args[0] == "fg" { // fg reads the REPL's own input
		if line, err := st.In.ReadLine(""); err == nil {
			f.record("stdin " + line)
		}
		return 0
	}
	if args[0] == "stop" && len(args) > 1 && args[1] == "nosuch" {
		fmt.Fprintln(stdout, "nosuch: ERROR (no such process)")
		return 1
	}
	fmt.Fprintln(stdout, "sleeper                          RUNNING   pid 1, uptime 0:00:01")
	return 0
}

func TestRunPiped(t *testing.T) {
	tests := []struct {
		name, in  string
		calls     []string
		out, errs string
		failed    bool
	}{
		{name: "ctl command", in: "status\n", calls: []string{"run status"}, out: "sleeper"},
		{name: "ctl with args", in: "  restart web:* sleeper  \n", calls: []string{"run restart web:* sleeper"}},
		{name: "expression", in: "1+1\n", calls: []string{"eval 1+1"}},
		{name: "fg reads the input", in: "fg cat\nhello\nstatus\n", calls: []string{"run fg cat", "stdin hello", "run status"}, out: "sleeper"},
		{name: "return shorthand", in: "=1+1\n", calls: []string{"eval return 1+1"}, out: "2\n"},
		{name: "print output", in: "print('hi')\n", calls: []string{"eval print('hi')"}, out: "hi\n"},
		{name: "statement", in: "x = 1\n", calls: []string{"eval x = 1"}},
		{name: "command word used as Lua", in: "status = 1\nstatus()\n", calls: []string{"eval status = 1", "eval status()"}},
		{
			name:  "multi-line chunk",
			in:    "function f()\n  return 1\nend\nstatus\n",
			calls: []string{"eval function f()\n  return 1\nend", "run status"},
		},
		{
			name:  "ctl word inside a chunk is Lua",
			in:    "t = {\nstatus\n}\n",
			calls: []string{"eval t = {\nstatus\n}"},
		},
		{
			name:   "unterminated string does not swallow the next line",
			in:     "s = \"abc\nstatus\n",
			calls:  []string{`eval s = "abc`, "run status"},
			errs:   "syntax error",
			failed: true,
		},
		{
			name:   "incomplete chunk at end of input is reported",
			in:     "function f()\n",
			calls:  []string{"eval function f()"},
			errs:   "syntax error",
			failed: true,
		},
		{name: "blank lines", in: "\n   \n\r\n", calls: nil},
		{name: "crlf", in: "status\r\n", calls: []string{"run status"}},
		{name: "exit", in: "exit\nstatus\n", calls: nil},
		{name: "quit", in: "quit\n1+1\n", calls: nil},
		{name: "help", in: "help\n", calls: nil, out: "restart web:*"},
		{name: "help with a topic", in: "help stop\n", calls: nil, out: "stop <name>\t\tStop a process\n"},
		{name: "failing command", in: "stop nosuch\nstatus\n", calls: []string{"run stop nosuch", "run status"}, out: "no such process", failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDaemon{}
			var out, errs strings.Builder
			err := run(context.Background(), Options{In: strings.NewReader(tt.in), Out: &out, Err: &errs}, f)
			if !slices.Equal(f.calls, tt.calls) {
				t.Errorf("calls = %q, want %q", f.calls, tt.calls)
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("out = %q, want it to contain %q", out.String(), tt.out)
			}
			if !strings.Contains(errs.String(), tt.errs) {
				t.Errorf("err = %q, want it to contain %q", errs.String(), tt.errs)
			}
			if tt.errs == "" && errs.Len() > 0 {
				t.Errorf("unexpected error output %q", errs.String())
			}
			if got := errors.Is(err, ErrInputFailed); got != tt.failed || err != nil && !got {
				t.Errorf("run = %v, want failed=%v", err, tt.failed)
			}
			if strings.Contains(out.String(), prompt) || strings.Contains(errs.String(), prompt) {
				t.Errorf("piped input printed a prompt: %q %q", out.String(), errs.String())
			}
		})
	}
}

func TestRunNeedsClient(t *testing.T) {
	if err := Run(context.Background(), Options{In: strings.NewReader("status\n")}); err == nil {
		t.Fatal("Run without a client succeeded")
	}
}

func TestCtlWords(t *testing.T) {
	commands := []string{"status", "start", "restart", "tail", "signal", "help", "exit"}
	tests := []struct {
		line string
		want []string
	}{
		{"status", []string{"status"}},
		{"restart web:*", []string{"restart", "web:*"}},
		{"restart --rolling --max-surge 2 web:*", []string{"restart", "--rolling", "--max-surge", "2", "web:*"}},
		{"tail -f web:web_01 stderr", []string{"tail", "-f", "web:web_01", "stderr"}},
		{"signal HUP all", []string{"signal", "HUP", "all"}},
		{"help", []string{"help"}},
		{"help status", []string{"help", "status"}},
		{"exit", []string{"exit"}},
		{"status()", nil},
		{"status = 1", nil},
		{"status.x", nil},
		{`start "web"`, nil},
		{"start web, x", nil},
		{"print 1", nil},
		{"x", nil},
		{"1+1", nil},
		{"sv.status()", nil},
	}
	for _, tt := range tests {
		got := ctlWords(commands, tt.line)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ctlWords(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestInterruptCancelsChunk sends the test process SIGINT while a chunk
// runs: the chunk's context is cancelled and the process survives.
func TestInterruptCancelsChunk(t *testing.T) {
	f := &fakeDaemon{started: make(chan struct{})}
	var out, errs strings.Builder
	s := &session{b: f, out: &out, errw: &errs, interactive: true}
	stop := s.catchInterrupts()
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.eval(context.Background(), "block()")
	}()
	select {
	case <-f.started:
	case <-time.After(10 * time.Second):
		t.Fatal("chunk never started")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not cancel the running chunk")
	}
	if !strings.Contains(errs.String(), "cancelled") {
		t.Errorf("err = %q, want cancelled", errs.String())
	}
}

func TestHistoryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history")
	r, err := newLinerReader(path, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r.Add("status")
	r.Add("x = 1")
	r.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "status\nx = 1\n" {
		t.Errorf("history file = %q", b)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("history file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	r, err = newLinerReader(path, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r.Add("status")
	r.Close()
	b, _ = os.ReadFile(path)
	if string(b) != "status\nx = 1\nstatus\n" {
		t.Errorf("history was not reloaded: %q", b)
	}
}
