package logfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/internal/testkit"
)

// splicePipe returns a pipe whose read end is non-blocking, as the
// daemon's are, with a buffer big enough for every chunk a test writes.
func splicePipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	if err := unix.SetNonblock(p[0], true); err != nil {
		t.Fatal(err)
	}
	unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 1<<20)
	return p[0], p[1]
}

// pumped is what drainPipe moved: spliced and written bytes, and the
// bytes the File reported it could not write.
type pumped struct {
	spliced, written, lost int
}

// drainPipe empties the pipe r into f as the daemon's pump does: splice
// while SpliceFrom can, otherwise read a chunk and Write it.
func drainPipe(t *testing.T, f *File, r int, got *pumped) {
	t.Helper()
	buf := make([]byte, 64<<10)
	defer func() {
		if left, err := unix.IoctlGetInt(r, unix.TIOCINQ); err != nil || left != 0 {
			t.Fatalf("%d bytes left in the pipe (%v): what the disk cannot take must be dropped and counted, not left for later", left, err)
		}
	}()
	for {
		n, err := f.SpliceFrom(r, len(buf))
		if n > 0 {
			got.spliced += n
			continue
		}
		switch {
		case errors.Is(err, unix.EAGAIN), err == io.EOF:
			return
		case !errors.Is(err, ErrNoSplice):
			t.Fatalf("splice: %v", err)
		}
		n, err = unix.Read(r, buf)
		if errors.Is(err, unix.EAGAIN) || n == 0 {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := f.Write(buf[:n])
		got.written += w
		got.lost += n - w
	}
}

func writeAll(t *testing.T, fd int, s string) {
	t.Helper()
	for b := []byte(s); len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
}

// Issue 16: a full disk on the splice path is handled as on the copy path
// (TestDiskFullMarker): what could not be written is dropped and counted,
// and once the disk has room one marker line, on a line of its own, says
// how much; nothing else is lost, repeated or reordered.
func TestSpliceDiskFullMarker(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
		backups  int
		release  bool // the log's descriptor is released while it is full
	}{
		{name: "plain"},
		{name: "rotating", maxBytes: 96 << 10, backups: 3},
		{name: "released", release: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testkit.MountTmpfs(t, "512k")
			path := filepath.Join(dir, "out.log")
			f, err := Open(path, tc.maxBytes, tc.backups)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, w := splicePipe(t)
			var got pumped
			writeAll(t, w, "before\npartial")
			drainPipe(t, f, r, &got)
			if got.spliced != len("before\npartial") {
				t.Fatalf("spliced %d bytes, want all %d (copied %d)", got.spliced, len("before\npartial"), got.written)
			}
			free := testkit.FillDisk(t, dir)
			var sent strings.Builder
			sent.WriteString("before\npartial")
			for i := 0; i < 30; i++ {
				chunk := fmt.Sprintf("%s%0999d\n", strings.Repeat("x", 3000), i)
				sent.WriteString(chunk)
				writeAll(t, w, chunk)
				drainPipe(t, f, r, &got)
				if tc.release && i == 10 {
					if err := f.Release(); err != nil {
						t.Fatal(err)
					}
				}
			}
			free()
			writeAll(t, w, "after\n")
			drainPipe(t, f, r, &got)
			writeAll(t, w, "more\n")
			drainPipe(t, f, r, &got)
			sent.WriteString("after\nmore\n")
			log := keptLogs(t, path)
			checkMarker(t, log, sent.String(), got.lost)
			if got.spliced < len("before\npartial")+len("more\n") {
				t.Errorf("spliced only %d bytes: once the marker is written, splicing must resume", got.spliced)
			}
		})
	}
}

// keptLogs concatenates path's backups, oldest first, and path.
func keptLogs(t *testing.T, path string) string {
	t.Helper()
	var all strings.Builder
	for i := 9; i >= 0; i-- {
		name := path
		if i > 0 {
			name = fmt.Sprintf("%s.%d", path, i)
		}
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	return all.String()
}

// checkMarker checks that log is sent with one stretch of lost bytes
// replaced by a marker line giving its size and newlines.
func checkMarker(t *testing.T, log, sent string, lost int) {
	t.Helper()
	if c := strings.Count(log, "[tend:"); c != 1 {
		t.Fatalf("%d markers, want 1; log ends %q", c, tail(log, 200))
	}
	i := strings.Index(log, "[tend: ")
	end := i + strings.IndexByte(log[i:], '\n') + 1
	var lines, bytes int
	if _, err := fmt.Sscanf(log[i:end], "[tend: %d lines (%d bytes) dropped while the disk was full]\n", &lines, &bytes); err != nil {
		t.Fatalf("marker %q: %v", log[i:end], err)
	}
	if bytes != lost || lost == 0 {
		t.Errorf("marker says %d bytes, the File reported %d lost", bytes, lost)
	}
	before, after := log[:i], log[end:]
	if !strings.HasPrefix(sent, before) {
		before = strings.TrimSuffix(before, "\n") // the marker's own newline
		if !strings.HasPrefix(sent, before) || strings.HasSuffix(before, "\n") {
			t.Fatalf("the log before the marker is not the start of the output (%d bytes)", len(before))
		}
	}
	if rest := sent[len(before):]; len(rest) < bytes || rest[bytes:] != after {
		t.Fatalf("%d bytes before the marker, %d lost, %d after: not the output with that stretch cut (%d bytes)",
			len(before), bytes, len(after), len(sent))
	}
	if n := strings.Count(sent[len(before):len(before)+bytes], "\n"); n != lines {
		t.Errorf("marker says %d lines, the cut stretch has %d", lines, n)
	}
}
