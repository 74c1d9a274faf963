package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// The error of a log that keeps failing is logged once, then at most once
// per logErrorEvery with a count, and its end is logged once.
func TestLogDropsRateLimit(t *testing.T) {
	var d logDrops
	t0 := time.Unix(1000, 0)
	errFull := errors.New("no space left on device")
	var logged []string
	at := func(after time.Duration, lost int) {
		if msg := d.failed(t0.Add(after), "stdout log of x", errFull, lost); msg != "" {
			logged = append(logged, msg)
		}
	}
	for i := range 1000 { // 1000 failures in the first 10 s
		at(time.Duration(i)*10*time.Millisecond, 10)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "no space left on device") {
		t.Fatalf("logged %q, want the first error only", logged)
	}
	at(logErrorEvery, 5)
	if len(logged) != 2 || !strings.Contains(logged[1], "999 more failed writes, 10005 bytes dropped") {
		t.Fatalf("logged %q, want a summary after %s", logged, logErrorEvery)
	}
	at(logErrorEvery+time.Second, 5)
	if len(logged) != 2 {
		t.Fatalf("logged %q", logged)
	}
	if msg := d.ok("stdout log of x"); !strings.Contains(msg, "writing again after dropping 10010 bytes") {
		t.Errorf("resume message %q", msg)
	}
	if msg := d.ok("stdout log of x"); msg != "" {
		t.Errorf("second resume message %q", msg)
	}
	if got := d.total.Load(); got != 10010 {
		t.Errorf("total %d, want 10010", got)
	}
	at(2*logErrorEvery, 1) // a new failure is reported at once
	if len(logged) != 3 {
		t.Errorf("logged %q, want a new failure reported", logged)
	}
}

// stdinChunks sends n lines to a cat through stdin, one chunk at a time
// (each waits until the engine has handled the previous one, seen through
// done), and returns the bytes sent.
func stdinChunks(t *testing.T, h *harness, name string, n int, done func() int64) int64 {
	t.Helper()
	var sent int64
	for i := range n {
		line := "line " + strconv.Itoa(i) + "\n"
		if err := h.e.SendStdin(name, []byte(line)); err != nil {
			t.Fatal(err)
		}
		sent += int64(len(line))
		h.waitFor("the chunk to be handled", 5*time.Second, func() bool { return done() >= sent })
	}
	return sent
}

// A child writing to a log that always fails (/dev/full) has its loss
// counted and the error logged once, not once per chunk.
func TestLogWriteErrorsRateLimited(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	h, buf := newLoggedHarness(t)
	s := h.spec("cat", "cat")
	s.Stdout.Path = "/dev/full"
	h.update(s)
	h.waitState("cat", Running, 10*time.Second)
	dropped := func() int64 { i, _ := h.e.Info("cat"); return i.DroppedStdout }
	sent := stdinChunks(t, h, "cat", 50, dropped)
	if got := dropped(); got != sent {
		t.Errorf("DroppedStdout = %d, want %d", got, sent)
	}
	if n := strings.Count(buf.String(), "write stdout log of cat"); n != 1 {
		t.Errorf("the write error was logged %d times, want once:\n%s", n, buf)
	}
}

// Issue 11, defect 7, end to end: on a full disk the engine counts what it
// drops and logs the error once; when space comes back the log gets one
// marker line before the new output, and the daemon log says so.
func TestDiskFullMarkerLine(t *testing.T) {
	dir := testkit.MountTmpfs(t, "256k")
	h, buf := newLoggedHarness(t)
	s := h.spec("cat", "cat")
	s.Stdout.Path = filepath.Join(dir, "cat.log")
	s.Stdout.MaxBytes = 0
	free := testkit.FillDisk(t, dir)
	h.update(s)
	h.waitState("cat", Running, 10*time.Second)
	dropped := func() int64 { i, _ := h.e.Info("cat"); return i.DroppedStdout }
	sent := stdinChunks(t, h, "cat", 40, dropped)
	if n := strings.Count(buf.String(), "write stdout log of cat"); n != 1 {
		t.Errorf("the write error was logged %d times, want once:\n%s", n, buf)
	}
	free()
	if err := h.e.SendStdin("cat", []byte("after\n")); err != nil {
		t.Fatal(err)
	}
	want := "[tend: 40 lines (" + strconv.FormatInt(sent, 10) + " bytes) dropped while the disk was full]\nafter\n"
	if got := h.waitFile(s.Stdout.Path, "after\n", 5*time.Second); got != want {
		t.Errorf("log %q, want %q", got, want)
	}
	h.waitFor("the daemon log to say writing resumed", 5*time.Second, func() bool {
		return strings.Contains(buf.String(), "writing again after dropping "+strconv.FormatInt(sent, 10)+" bytes")
	})
	if i, _ := h.e.Info("cat"); i.DroppedStdout != sent || i.DroppedStderr != 0 {
		t.Errorf("dropped %d/%d, want %d/0", i.DroppedStdout, i.DroppedStderr, sent)
	}
	h.e.StopProcess(context.Background(), "cat", true)
}
