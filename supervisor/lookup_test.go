package supervisor

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PATH searches shared between processes: a second process with the same
// command and PATH uses the first one's answer, but never a file that has
// since gone or stopped being executable, and a different PATH searches
// its own.
func TestCommandLookupShared(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeScript := func(d, tag string) {
		t.Helper()
		script := "#!/bin/sh\necho " + tag + "\n"
		if err := os.WriteFile(filepath.Join(d, "tendtool"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, Config{Environ: []string{"PATH=" + a + ":" + b}})
	run := func(name string, env map[string]string) string {
		t.Helper()
		s := h.spec(name, "tendtool")
		s.StartSecs, s.AutoRestart, s.AutoStart = 0, RestartNever, false
		s.Environment = env
		s.Stdout.Path = h.file(name + ".log")
		h.update(s)
		if err := h.e.StartProcess(t.Context(), name, true); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		h.waitState(name, Exited, 5*time.Second)
		return strings.TrimSpace(h.waitFile(h.file(name+".log"), "\n", 5*time.Second))
	}
	writeScript(b, "b")
	if got := run("first", nil); got != "b" {
		t.Fatalf("first ran %q, want the one in b", got)
	}
	// The answer found in b is gone: the next search finds a's.
	if err := os.Remove(filepath.Join(b, "tendtool")); err != nil {
		t.Fatal(err)
	}
	writeScript(a, "a")
	if got := run("second", nil); got != "a" {
		t.Errorf("second ran %q, want a's: a removed file was reused", got)
	}
	// Another PATH is another search.
	writeScript(b, "b")
	if got := run("third", map[string]string{"PATH": b}); got != "b" {
		t.Errorf("third ran %q, want b's: its own PATH has only b", got)
	}
}

// readProcFile reads what os.ReadFile reads, past its first buffer too,
// and a missing file is fs.ErrNotExist.
func TestReadProcFile(t *testing.T) {
	for _, path := range []string{"/proc/self/stat", "/proc/self/mountinfo", "/proc/self/environ"} {
		got, err := readProcFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// /proc/self/stat changes between reads (times, pages): compare
		// what does not.
		if path == "/proc/self/stat" {
			got, want = got[:bytes.IndexByte(got, ')')], want[:bytes.IndexByte(want, ')')]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: read %d bytes, os.ReadFile %d", path, len(got), len(want))
		}
	}
	if _, err := readProcFile("/proc/nonexistent-tend"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
