package logfile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// startChild runs sh -c script with its stdout on a new pipe and returns
// the read end (the parent's copy of the write end is closed).
func startChild(t testing.TB, script string, args ...string) (*os.File, *exec.Cmd) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{"-c", script}, args...)...)
	cmd.Stdout = w
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return r, cmd
}

func TestCaptureChild(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	logPath := filepath.Join(dir, "child.log")
	const total = 5000000
	const backups = 10
	f, err := Open(logPath, 1<<20, backups)
	if err != nil {
		t.Fatal(err)
	}
	r, cmd := startChild(t, `head -c `+strconv.Itoa(total)+` /dev/urandom | tee "$0"`, src)
	defer r.Close()
	h := sha256.New()
	var n, chunks int
	err = Capture(r, func(b []byte) {
		if len(b) == 0 || len(b) > CaptureBufSize {
			t.Errorf("chunk of %d bytes", len(b))
		}
		h.Write(b)
		n += len(b)
		chunks++
		if _, err := f.Write(b); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if n != total || len(want) != total {
		t.Fatalf("captured %d bytes, child wrote %d, want %d", n, len(want), total)
	}
	wantSum := sha256.Sum256(want)
	if got := h.Sum(nil); !bytes.Equal(got, wantSum[:]) {
		t.Fatalf("sha256 of captured stream differs")
	}
	// The rotated log set holds the same stream.
	var all bytes.Buffer
	for i := backups; i >= 1; i-- {
		b, err := os.ReadFile(logPath + "." + strconv.Itoa(i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		all.Write(b)
	}
	all.Write([]byte(readString(t, logPath)))
	if got := sha256.Sum256(all.Bytes()); got != wantSum {
		t.Errorf("sha256 of rotated logs differs (%d bytes)", all.Len())
	}
	t.Logf("%d chunks", chunks)
}

func TestCaptureEOF(t *testing.T) {
	tests := []struct {
		name  string
		write []string
	}{
		{"no data", nil},
		{"one chunk", []string{"hello\n"}},
		{"several", []string{"a", "bb", "ccc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got bytes.Buffer
			done := make(chan error)
			chunk := make(chan struct{})
			go func() {
				done <- Capture(r, func(b []byte) {
					got.Write(b)
					chunk <- struct{}{}
				})
			}()
			var want string
			for _, s := range tt.write {
				w.Write([]byte(s))
				<-chunk // one read per write: the pipe is drained before the next
				want += s
			}
			w.Close()
			if err := <-done; err != nil {
				t.Fatalf("Capture = %v, want nil at EOF", err)
			}
			if got.String() != want {
				t.Errorf("got %q, want %q", got.String(), want)
			}
		})
	}
}

func TestCaptureClosedSource(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	if err := Capture(r, func([]byte) {}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Capture on closed file = %v", err)
	}
}

// Capture of a child that exits while a grandchild keeps the pipe open
// returns only when the last writer is gone.
func TestCaptureGrandchild(t *testing.T) {
	r, cmd := startChild(t, `echo one; (sleep 0.2; echo two) &`)
	defer r.Close()
	var got bytes.Buffer
	if err := Capture(r, func(b []byte) { got.Write(b) }); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if got.String() != "one\ntwo\n" {
		t.Errorf("got %q", got.String())
	}
}

// Idle captures hold no buffer: 200 of them, each having read once, keep
// far less than 200 x 64 KiB alive.
func TestCaptureIdleHoldsNoBuffer(t *testing.T) {
	const n = 200
	var ws []*os.File
	done := make(chan error, n)
	got := make(chan struct{}, n)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // the pool's victim cache goes in the second cycle
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		go func() {
			defer r.Close()
			done <- Capture(r, func([]byte) { got <- struct{}{} })
		}()
		w.Write([]byte("x"))
	}
	for range n {
		<-got
	}
	after := heap()
	for _, w := range ws {
		w.Close()
	}
	for range n {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if grew := int64(after) - int64(before); grew > n*CaptureBufSize/4 {
		t.Errorf("heap grew by %d bytes for %d idle captures", grew, n)
	} else {
		t.Logf("heap grew by %d bytes for %d idle captures", grew, n)
	}
}
