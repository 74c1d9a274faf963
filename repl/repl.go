// Package repl is the client side of tend's command line: the ctl
// commands (RunCommand), the command table that `tend -h`, help and
// completion are derived from (Usage), and the interactive REPL (Run),
// which sends ctl commands and Lua chunks to the running daemon. It talks
// to the daemon only through package client and only formats and prints
// what comes back. It parses Lua only to tell a finished chunk from an
// unfinished one, with gopher-lua/parse; the Lua state lives in the
// daemon.
package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/peterh/liner"
	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// Options configures Run.
type Options struct {
	// Client talks to the running daemon.
	Client *client.Client
	// In is read line by line. When it is the terminal on os.Stdin and Out
	// is the terminal on os.Stdout, the REPL edits lines with liner;
	// otherwise it reads plainly and prints no prompt, so piped input
	// gives clean output.
	In io.Reader
	// Out receives command output and Lua results; Err receives errors.
	Out, Err io.Writer
	// HistoryFile is where interactive history is kept ("" keeps none).
	// Its directory must exist.
	HistoryFile string
	// Prompt is the prompt's name, shown as "NAME> " ("" means tend);
	// supervisorctl's [supervisorctl] prompt= sets it.
	Prompt string
}

// ErrInputFailed is returned (wrapped) by Run when input was piped and at
// least one line failed: a ctl command exited non-zero or a chunk raised
// an error. The failures themselves were already written to Err.
var ErrInputFailed = errors.New("input failed")

const (
	prompt     = "tend> "
	contPrompt = "  ... "
)

// backend is what the REPL needs from the daemon; clientBackend provides
// it over a *client.Client.
type backend interface {
	Eval(ctx context.Context, chunk string) (string, error)
	Complete(ctx context.Context) (control.CompleteReply, error)
	Run(ctx context.Context, args []string, st Streams) int
}

// clientBackend is the backend of a real daemon: Eval and Complete from
// the client, and Run as RunCommand.
type clientBackend struct{ *client.Client }

// Run implements backend.
func (b clientBackend) Run(ctx context.Context, args []string, st Streams) int {
	return RunCommandWith(ctx, b.Client, args, st)
}

// Run runs the REPL until end of input (Ctrl-D), exit/quit or ctx is done.
// A line of plain words whose first word is a ctl command (Commands) runs
// that command exactly as the tend CLI would; anything else is a Lua chunk
// evaluated in the daemon, with continuation lines read while the chunk is
// incomplete. Ctrl-C clears the current input, or cancels the running
// chunk or command.
func Run(ctx context.Context, opts Options) error {
	if opts.Client == nil {
		return errors.New("repl: no client")
	}
	return run(ctx, opts, clientBackend{opts.Client})
}

// run is Run over any backend.
func run(ctx context.Context, opts Options, b backend) error {
	if opts.In == nil {
		opts.In = os.Stdin
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Err == nil {
		opts.Err = io.Discard
	}
	s := &session{b: b, out: opts.Out, errw: opts.Err, commands: Commands(), prompt: prompt}
	if opts.Prompt != "" {
		s.prompt = opts.Prompt + "> "
	}
	s.comp = newCompleter(s.fetchNames)

	var in lineReader
	if useLiner(opts) {
		lr, err := newLinerReader(opts.HistoryFile, s.comp.complete, opts.Err)
		if err != nil {
			return err
		}
		defer lr.Close()
		in = lr
		s.interactive = true
		stop := s.catchInterrupts()
		defer stop()
	} else {
		pr := &plainReader{sc: bufio.NewScanner(opts.In)}
		pr.sc.Buffer(make([]byte, 64*1024), 16<<20)
		if isTerminal(opts.In) {
			pr.promptTo = opts.Err // typing blind into a redirected REPL
		}
		in = pr
	}
	return s.loop(ctx, in)
}

// session is one REPL run.
type session struct {
	b           backend
	out, errw   io.Writer
	commands    []string // the words the REPL reads as commands, not Lua
	comp        *completer
	interactive bool
	failed      int
	in          lineReader // the input, which fg reads too
	prompt      string     // "tend> " unless Options.Prompt says otherwise

	mu     sync.Mutex
	cancel context.CancelFunc // cancels the running chunk or command
}

// loop reads and executes lines until the input ends.
func (s *session) loop(ctx context.Context, in lineReader) error {
	s.in = in
	var pending []string // lines of an incomplete chunk
	for ctx.Err() == nil {
		p := s.prompt
		if len(pending) > 0 {
			p = contPrompt
		}
		line, err := in.ReadLine(p)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			pending = nil // Ctrl-C: drop the input, keep going
			continue
		case errors.Is(err, io.EOF):
			if s.interactive {
				fmt.Fprintln(s.out)
			} else if len(pending) > 0 {
				s.eval(ctx, strings.Join(pending, "\n")) // reports the error
			}
			return s.result()
		case err != nil:
			return fmt.Errorf("read input: %w", err)
		}
		if len(pending) == 0 {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" {
				continue
			}
			if words := ctlWords(s.commands, trimmed); words != nil {
				in.Add(trimmed)
				if !s.command(ctx, words) {
					return s.result()
				}
				continue
			}
		}
		chunk := strings.Join(append(pending, line), "\n")
		if Incomplete(chunk) {
			pending = append(pending, line)
			continue
		}
		pending = nil
		for _, e := range historyEntries(chunk) {
			in.Add(e)
		}
		s.eval(ctx, chunk)
	}
	return s.result()
}

// result is what Run returns at the end of input.
func (s *session) result() error {
	if s.failed > 0 && !s.interactive {
		return fmt.Errorf("%d of the piped inputs failed: %w", s.failed, ErrInputFailed)
	}
	return nil
}

// command runs a ctl command or a REPL builtin; it returns false to leave.
func (s *session) command(ctx context.Context, words []string) bool {
	switch {
	case words[0] == "exit", words[0] == "quit":
		return false
	case words[0] == "help" && len(words) == 1:
		s.help()
		return true
	case words[0] == "help":
		writeHelp(s.out, strings.Join(words[1:], " "))
		return true
	}
	ctx, done := s.running(ctx)
	defer done()
	if code := s.b.Run(ctx, words, Streams{In: s.in, Out: s.out, Err: s.errw}); code != 0 {
		s.failed++
	}
	return true
}

// eval runs a Lua chunk in the daemon and prints what it printed and
// returned. A leading "=" means "return", as in the Lua 5.1 REPL.
func (s *session) eval(ctx context.Context, chunk string) {
	if rest, ok := strings.CutPrefix(chunk, "="); ok {
		chunk = "return " + rest
	}
	ctx, done := s.running(ctx)
	defer done()
	out, err := s.b.Eval(ctx, chunk)
	if out != "" {
		io.WriteString(s.out, out)
		if !strings.HasSuffix(out, "\n") {
			io.WriteString(s.out, "\n")
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		s.failed++
		fmt.Fprintln(s.errw, "cancelled")
	case err != nil:
		s.failed++
		fmt.Fprintln(s.errw, strings.TrimRight(err.Error(), "\n"))
	}
}

// running returns a context for one chunk or command that Ctrl-C cancels.
func (s *session) running(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	return ctx, func() {
		s.mu.Lock()
		s.cancel = nil
		s.mu.Unlock()
		cancel()
	}
}

// catchInterrupts turns SIGINT into cancelling the running chunk or
// command for as long as the interactive REPL runs; at the prompt liner
// reads Ctrl-C as a key instead. It returns a function that stops it.
func (s *session) catchInterrupts() func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-sigs:
				s.mu.Lock()
				if s.cancel != nil {
					s.cancel()
				}
				s.mu.Unlock()
			case <-quit:
				return
			}
		}
	})
	return func() {
		signal.Stop(sigs)
		close(quit)
		wg.Wait()
	}
}

// fetchNames asks the daemon for the names completion offers.
func (s *session) fetchNames(ctx context.Context) (names, error) {
	r, err := s.b.Complete(ctx)
	if err != nil {
		return names{}, fmt.Errorf("complete: %w", err)
	}
	return names{commands: s.commands, processes: r.Processes, globals: r.Globals}, nil
}

// help prints how the REPL reads its input.
func (s *session) help() {
	fmt.Fprintf(s.out, `tend repl: ctl commands and Lua, run in the daemon.

A line of plain words that starts with a command runs it as the tend CLI does:
  %s
  e.g. status, restart web:*, tail -f web, signal HUP all; help CMD explains one
Anything else is Lua run in the daemon's state, where the sv module is the
live engine; an expression prints its value:
  1+1   =x   sv = require "sv"   sv.status("web")   sv.restart("web:*")
An unfinished chunk (function ... end, an open table) continues on the next line.

Tab completes commands, process names and Lua globals; Up/Down walk history.
Ctrl-C clears the input or cancels a running chunk; Ctrl-D or exit leaves.
`, wrapWords(commandNames(ctlCmd), 76, "\n  "))
}

// wrapWords joins words with spaces, breaking lines before width.
func wrapWords(words []string, width int, sep string) string {
	var b strings.Builder
	n := 0
	for i, w := range words {
		switch {
		case i == 0:
		case n+1+len(w) > width:
			b.WriteString(sep)
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// ctlWords returns the words of line when it is a command: plain words,
// the first of them one of commands. It returns nil for Lua.
func ctlWords(commands []string, line string) []string {
	if !plainWords(line) {
		return nil
	}
	words := strings.Fields(line)
	if len(words) == 0 || !slices.Contains(commands, words[0]) {
		return nil
	}
	return words
}

// plainWords reports whether line is only words made of the characters
// process names, groups, signals and options use (web:web_01, web:*, -f,
// HUP, 100): no Lua operators, brackets or quotes.
func plainWords(line string) bool {
	for _, r := range line {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_-:*./@+% \t", r):
		default:
			return false
		}
	}
	return true
}

// lineReader reads the REPL's input lines.
type lineReader interface {
	// ReadLine returns the next line without its newline: io.EOF at the
	// end of input, liner.ErrPromptAborted on Ctrl-C.
	ReadLine(prompt string) (string, error)
	// Add records an entry in the history.
	Add(entry string)
}

// useLiner reports whether the REPL runs on a terminal that liner can
// drive: it reads os.Stdin and writes os.Stdout itself.
func useLiner(opts Options) bool {
	return opts.In == os.Stdin && opts.Out == os.Stdout &&
		isTerminal(os.Stdin) && isTerminal(os.Stdout) && liner.TerminalSupported()
}

// isTerminal reports whether v is a file open on a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// plainReader reads lines from a pipe or file, printing a prompt only to
// promptTo when that is set.
type plainReader struct {
	sc       *bufio.Scanner
	promptTo io.Writer
}

// ReadLine implements lineReader.
func (r *plainReader) ReadLine(prompt string) (string, error) {
	if r.promptTo != nil {
		io.WriteString(r.promptTo, prompt)
	}
	if r.sc.Scan() {
		return strings.TrimSuffix(r.sc.Text(), "\r"), nil
	}
	if err := r.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

// Add implements lineReader; piped input keeps no history.
func (r *plainReader) Add(string) {}

// linerReader edits lines on the terminal with liner and keeps the
// history file.
type linerReader struct {
	st      *liner.State
	history string
	errw    io.Writer
}

// newLinerReader puts the terminal in liner's mode and loads the history.
func newLinerReader(history string, complete liner.WordCompleter, errw io.Writer) (*linerReader, error) {
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetTabCompletionStyle(liner.TabPrints)
	st.SetWordCompleter(complete)
	r := &linerReader{st: st, history: history, errw: errw}
	if history == "" {
		return r, nil
	}
	f, err := os.Open(history)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		st.Close()
		return nil, fmt.Errorf("read history: %w", err)
	default:
		_, err = st.ReadHistory(f)
		f.Close()
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("read history %s: %w", history, err)
		}
	}
	return r, nil
}

// ReadLine implements lineReader.
func (r *linerReader) ReadLine(prompt string) (string, error) {
	return r.st.Prompt(prompt)
}

// Add implements lineReader: it appends to the history and saves the
// history file at once, so a killed REPL loses nothing. A failure to save
// is reported once and otherwise ignored: it must not stop the session.
func (r *linerReader) Add(entry string) {
	r.st.AppendHistory(entry)
	if r.history == "" {
		return
	}
	if err := r.save(); err != nil {
		fmt.Fprintf(r.errw, "history: %v (history is not saved)\n", err)
		r.history = ""
	}
}

// save writes the history file through a temporary file and a rename.
func (r *linerReader) save() error {
	tmp, err := os.CreateTemp(filepath.Dir(r.history), ".history-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := r.st.WriteHistory(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), r.history)
}

// Close restores the terminal.
func (r *linerReader) Close() error {
	return r.st.Close()
}
