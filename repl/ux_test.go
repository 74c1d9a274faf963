package repl

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// TestStartHint: with no daemon, the hint follows supervisorctl's line,
// on stderr, so stdout stays supervisorctl's.
func TestStartHint(t *testing.T) {
	missing := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	c, _ := client.New(missing, "", "")
	for _, args := range [][]string{{"status"}, {"eval", "1"}, {"tail", "-f", "x"}} {
		var out, errs bytes.Buffer
		rc := RunCommandWith(context.Background(), c, args, Streams{Out: &out, Err: &errs, StartHint: "start one"})
		if rc == 0 || !strings.HasSuffix(errs.String(), "start one\n") || strings.Contains(out.String(), "start one") {
			t.Errorf("%v: rc %d, stdout %q, stderr %q", args, rc, out.String(), errs.String())
		}
	}
}

// lineFeed is a LineReader fed by the test, one line at a time.
type lineFeed chan string

func (f lineFeed) ReadLine(string) (string, error) {
	l, ok := <-f
	if !ok {
		return "", io.EOF
	}
	return l, nil
}

// TestFgCancel: fg shows what the process writes, sends input lines to
// it, and Ctrl-C (the context) leaves it even while waiting for input.
func TestFgCancel(t *testing.T) {
	cat := supervisor.NewSpec("cat", "cat")
	cat.StartSecs = 0
	_, url := serveEngine(t, control.Options{}, cat)
	c, _ := client.New(url, "", "")
	feed := make(lineFeed)
	defer close(feed) // ends the read fg left waiting
	var out testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- RunCommandWith(ctx, c, []string{"fg", "cat"}, Streams{In: feed, Out: &out, Err: &out}) }()
	feed <- "hello"
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "hello\n") {
		if time.Now().After(deadline) {
			t.Fatalf("fg output %q, want hello", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if rc := <-done; rc != 0 || out.String() != "==> Press Ctrl-C to exit <==\nhello\nExiting foreground\n" {
		t.Fatalf("rc %d, output %q", rc, out.String())
	}
}

// TestCompletionScripts: each script offers every command of the table
// and its options, and an unknown shell is an error.
func TestCompletionScripts(t *testing.T) {
	for _, sh := range Shells {
		script, err := CompletionScript(sh)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range completable() {
			if !strings.Contains(script, c.name) {
				t.Errorf("%s script lacks %s", sh, c.name)
			}
			for _, f := range c.flags {
				if !strings.Contains(script, f) {
					t.Errorf("%s script lacks %s's %s", sh, c.name, f)
				}
			}
		}
		if strings.Contains(script, "quit") || !strings.Contains(script, "__complete") {
			t.Errorf("%s script: no builtins, and names asked of the daemon", sh)
		}
	}
	if _, err := CompletionScript("csh"); err == nil {
		t.Error("csh: no error")
	}
}

// TestManPage: the manual lists every command of the table with its
// help, and groff reads it without a warning.
func TestManPage(t *testing.T) {
	page := ManPage("1.2.0")
	for _, c := range completable() {
		if !strings.Contains(page, ".B "+roff(c.name)+"\n") && !strings.Contains(page, ".B "+roff(c.name)+" ") {
			t.Errorf("man page lacks %s", c.name)
		}
	}
	if !strings.Contains(page, `tend 1.2.0`) || !strings.Contains(page, `tail \-f <name>`) {
		t.Errorf("man page lacks the version or the help texts:\n%s", page)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff not installed: the man page's roff is not checked")
	}
	cmd := exec.Command(groff, "-man", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}
