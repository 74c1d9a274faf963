package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// line returns the reference's 85-byte line number i.
func line(i int) string {
	return fmt.Sprintf("%04d %s\n", i, strings.Repeat("x", 79))
}

// lines returns lines a..b inclusive.
func lines(a, b int) string {
	var sb strings.Builder
	for i := a; i <= b; i++ {
		sb.WriteString(line(i))
	}
	return sb.String()
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listDir returns the names in dir with their sizes.
func listDir(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = info.Size()
	}
	return m
}

func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

func TestRotationReference(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		backups  int
		prefill  string
		want     map[string]string // file suffix -> content
	}{
		{
			name: "rot3", maxBytes: 1024, backups: 3,
			want: map[string]string{"": lines(53, 60), ".1": lines(40, 52), ".2": lines(27, 39), ".3": lines(14, 26)},
		},
		{
			name: "rot1", maxBytes: 1024, backups: 1,
			want: map[string]string{"": lines(53, 60), ".1": lines(40, 52)},
		},
		{
			name: "rot0", maxBytes: 1024, backups: 0,
			want: map[string]string{"": lines(53, 60)},
		},
		{
			name: "nomax", maxBytes: 0, backups: 10,
			want: map[string]string{"": lines(1, 60)},
		},
		{
			// An existing file's size counts towards maxBytes.
			name: "prefilled", maxBytes: 1024, backups: 3, prefill: strings.Repeat("p", 1000),
			want: map[string]string{"": lines(54, 60), ".1": lines(41, 53), ".2": lines(28, 40), ".3": lines(15, 27)},
		},
		{
			name: "prefilled-nomax", maxBytes: 0, backups: 3, prefill: "old\n",
			want: map[string]string{"": "old\n" + lines(1, 60)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.name+".log")
			if tt.prefill != "" {
				if err := os.WriteFile(path, []byte(tt.prefill), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := Open(path, tt.maxBytes, tt.backups)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Size(); got != int64(len(tt.prefill)) {
				t.Errorf("Size after open = %d, want %d", got, len(tt.prefill))
			}
			for i := 1; i <= 60; i++ {
				if n, err := f.Write([]byte(line(i))); err != nil || n != 85 {
					t.Fatalf("Write line %d = %d, %v", i, n, err)
				}
			}
			if got, want := f.Size(), int64(len(tt.want[""])); got != want {
				t.Errorf("Size = %d, want %d", got, want)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			wantSizes := map[string]int64{}
			for suffix, content := range tt.want {
				wantSizes[tt.name+".log"+suffix] = int64(len(content))
			}
			if got := listDir(t, dir); fmt.Sprint(got) != fmt.Sprint(wantSizes) {
				t.Fatalf("files = %v, want %v", got, wantSizes)
			}
			for suffix, content := range tt.want {
				if got := readString(t, path+suffix); got != content {
					t.Errorf("%s: content differs (%d bytes, want %d)", suffix, len(got), len(content))
				}
			}
		})
	}
}

// The reference's sizes, literally.
func TestRotationReferenceSizes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rot3.log")
	f, err := Open(path, 1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 60; i++ {
		f.Write([]byte(line(i)))
	}
	f.Close()
	want := map[string]int64{"rot3.log": 680, "rot3.log.1": 1105, "rot3.log.2": 1105, "rot3.log.3": 1105}
	if got := listDir(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestOpenMode(t *testing.T) {
	dir := t.TempDir()
	um := umask()
	tests := []struct {
		name string
		open func(string) (*File, error)
		want os.FileMode
	}{
		{"default", func(p string) (*File, error) { return Open(p, 100, 1) }, 0o644 &^ um},
		{"0600", func(p string) (*File, error) { return OpenMode(p, 100, 1, 0o600) }, 0o600 &^ um},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".log")
			f, err := tt.open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(bytes.Repeat([]byte("z"), 150)) // rotates: .1 and a fresh file
			for _, p := range []string{path, path + ".1"} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != tt.want {
					t.Errorf("%s mode = %v, want %v", p, st.Mode().Perm(), tt.want)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nodir", "x.log"), 0, 0); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	} else if !strings.Contains(err.Error(), "nodir") {
		t.Errorf("error lacks the path: %v", err)
	}
}

// Numbered lines from concurrent writers survive many rotations: every
// writer's retained lines are a contiguous run ending at its last line,
// each present once, in order.
func TestNoLossAcrossRotations(t *testing.T) {
	const writers, perWriter = 4, 3000
	tests := []struct {
		name     string
		maxBytes int64
		backups  int
		all      bool // every line retained
	}{
		{"all-retained", 4096, 1000, true},
		{"some-dropped", 4096, 5, false},
		{"truncate", 4096, 0, false},
		{"nomax", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "n.log")
			f, err := Open(path, tt.maxBytes, tt.backups)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := 0; i < perWriter; i++ {
						// Varying lengths, sometimes several lines per chunk.
						chunk := fmt.Sprintf("w%d %06d %s\n", w, i, strings.Repeat("#", (i*7+w)%97))
						if i%5 == 4 && i+1 < perWriter {
							i++
							chunk += fmt.Sprintf("w%d %06d %s\n", w, i, strings.Repeat("#", (i*7+w)%97))
						}
						if _, err := f.Write([]byte(chunk)); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}

			var all bytes.Buffer
			for i := tt.backups; i >= 1; i-- {
				b, err := os.ReadFile(path + "." + strconv.Itoa(i))
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if tt.maxBytes > 0 && int64(len(b)) < tt.maxBytes {
					t.Errorf("backup .%d has %d bytes < maxBytes", i, len(b))
				}
				all.Write(b)
			}
			all.Write([]byte(readString(t, path)))

			next := map[int]int{} // writer -> next expected seq
			started := map[int]bool{}
			sc := bufio.NewScanner(&all)
			n := 0
			for sc.Scan() {
				var w, seq int
				if _, err := fmt.Sscanf(sc.Text(), "w%d %d", &w, &seq); err != nil {
					t.Fatalf("bad line %q: %v", sc.Text(), err)
				}
				if !started[w] {
					started[w] = true
					next[w] = seq
					if tt.all && seq != 0 {
						t.Fatalf("writer %d starts at %d", w, seq)
					}
				}
				if seq != next[w] {
					t.Fatalf("writer %d: got seq %d, want %d", w, seq, next[w])
				}
				next[w]++
				n++
			}
			if tt.maxBytes > 0 && tt.backups == 0 {
				// Truncation happens after the write that reaches maxBytes,
				// so the file ends below maxBytes and may be empty if the
				// last write was that one.
				if int64(all.Len()) >= tt.maxBytes {
					t.Errorf("truncated file has %d bytes, want < %d", all.Len(), tt.maxBytes)
				}
			} else if len(started) == 0 {
				t.Fatal("no lines retained")
			}
			for w := range writers {
				// A writer that finished early may have all its lines
				// rotated away; one that appears must end at its last line.
				if (started[w] || tt.all) && next[w] != perWriter {
					t.Errorf("writer %d ends at %d, want %d", w, next[w], perWriter)
				}
			}
			if tt.all && n != writers*perWriter {
				t.Errorf("%d lines, want %d", n, writers*perWriter)
			}
		})
	}
}

func TestClearKeepsBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	f, err := Open(path, 1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 1; i <= 30; i++ {
		f.Write([]byte(line(i)))
	}
	before := listDir(t, dir)
	if before["c.log"] == 0 || before["c.log.1"] != 1105 || before["c.log.2"] != 1105 {
		t.Fatalf("unexpected start %v", before)
	}
	if err := f.Clear(); err != nil {
		t.Fatal(err)
	}
	after := listDir(t, dir)
	if after["c.log"] != 0 || after["c.log.1"] != 1105 || after["c.log.2"] != 1105 || len(after) != 3 {
		t.Fatalf("after Clear: %v", after)
	}
	if f.Size() != 0 {
		t.Errorf("Size after Clear = %d", f.Size())
	}
	f.Write([]byte("new\n"))
	if got := readString(t, path); got != "new\n" {
		t.Errorf("after Clear+Write: %q", got)
	}
	if got, _ := f.Read(0, 0); string(got) != "new\n" {
		t.Errorf("Read after Clear = %q", got)
	}
	if got := readString(t, path+".1"); got != lines(14, 26) {
		t.Errorf(".1 changed")
	}
}

func TestClearPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	os.WriteFile(path, []byte("data"), 0o644)
	if err := ClearPath(path); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != "" {
		t.Errorf("not cleared: %q", got)
	}
	if err := ClearPath(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing: %v", err)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.log")
	f, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("a"))
	// logrotate: move the file away; writes still go to it until Reopen.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("b"))
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	if f.Size() != 0 {
		t.Errorf("Size after Reopen of new file = %d", f.Size())
	}
	f.Write([]byte("c"))
	if got := readString(t, path); got != "c" {
		t.Errorf("new file = %q", got)
	}
	if got := readString(t, path+".old"); got != "ab" {
		t.Errorf("moved file = %q", got)
	}
	// Reopen of a file still in place keeps appending and its size.
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("d"))
	if got := readString(t, path); got != "cd" || f.Size() != 2 {
		t.Errorf("after second Reopen: %q size %d", got, f.Size())
	}
}

// A rotation whose current file was removed by someone else neither fails
// nor resurrects old data.
func TestRotateMissingCurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.log")
	f, err := Open(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("1234"))
	os.Remove(path)
	if _, err := f.Write([]byte("567890")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	f.Write([]byte("x"))
	if got := readString(t, path); got != "x" {
		t.Errorf("current = %q", got)
	}
}

func TestPassThroughFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		r, err := os.Open(path) // blocks until Open below
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		got <- b
	}()
	f, err := Open(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !f.PassThrough() {
		t.Fatal("FIFO is not a pass-through")
	}
	var want bytes.Buffer
	for i := 1; i <= 60; i++ {
		want.WriteString(line(i))
		if _, err := f.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
	}
	if f.Size() != 0 {
		t.Errorf("Size = %d", f.Size())
	}
	if _, err := f.Read(-100, 0); !errors.Is(err, ErrNoFile) {
		t.Errorf("Read: %v, want ErrNoFile", err)
	}
	if _, _, _, err := f.Tail(0, 100); !errors.Is(err, ErrNoFile) {
		t.Errorf("Tail: %v, want ErrNoFile", err)
	}
	if err := f.Clear(); err != nil {
		t.Errorf("Clear: %v", err)
	}
	if err := f.Reopen(); err != nil {
		t.Errorf("Reopen: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Errorf("reader got %d bytes, want %d", len(b), want.Len())
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("files: %v", names)
	}
	if _, err := ReadPath(path, 0, 0); !errors.Is(err, ErrNoFile) {
		t.Errorf("ReadPath on FIFO: %v", err)
	}
	if d, off, ovf, err := TailPath(path, 0, 10); len(d) != 0 || off != 0 || ovf || err != nil {
		t.Errorf("TailPath on FIFO: %q %d %v %v", d, off, ovf, err)
	}
}

func TestPassThroughStd(t *testing.T) {
	for _, p := range []string{"/dev/stdout", "/dev/stderr", "/dev/null"} {
		t.Run(p, func(t *testing.T) {
			f, err := Open(p, 10, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !f.PassThrough() {
				t.Error("not a pass-through")
			}
			if _, err := f.Read(0, 0); !errors.Is(err, ErrNoFile) {
				t.Errorf("Read: %v", err)
			}
			if p == "/dev/null" {
				for range 5 {
					if _, err := f.Write([]byte("0123456789ab")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			// The daemon's own descriptors stay open.
			var st syscall.Stat_t
			if err := syscall.Fstat(1, &st); err != nil {
				t.Errorf("fd 1: %v", err)
			}
			if err := syscall.Fstat(2, &st); err != nil {
				t.Errorf("fd 2: %v", err)
			}
		})
	}
	if _, err := os.Stat("/dev/null.1"); err == nil {
		t.Error("/dev/null rotated")
	}
}

func TestChanged(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(filepath.Join(dir, "ch.log"), 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fired := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"write", func() error { _, err := f.Write([]byte("abc")); return err }},
		{"write+rotate", func() error { _, err := f.Write([]byte("0123456789")); return err }},
		{"clear", f.Clear},
		{"reopen", f.Reopen},
		{"close", f.Close},
	}
	for _, o := range ops {
		c := f.Changed()
		if fired(c) {
			t.Fatalf("%s: fired before", o.name)
		}
		if c2 := f.Changed(); c2 != c {
			t.Errorf("%s: two channels for one change", o.name)
		}
		if err := o.op(); err != nil {
			t.Fatal(err)
		}
		if !fired(c) {
			t.Errorf("%s: did not fire", o.name)
		}
	}
	if !fired(f.Changed()) {
		t.Error("Changed after Close is not closed")
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

// A rotation that cannot rename keeps every byte in the current file and
// reports the error; the next Write retries.
func TestRotateFailureKeepsData(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.log")
	// A non-empty directory where .1 should go makes the rotation fail.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.Write([]byte("0123456789ab"))
	if n != 12 || err == nil || !strings.Contains(err.Error(), "rotate "+path) {
		t.Fatalf("Write = %d, %v; want 12 and a rotate error", n, err)
	}
	if got := readString(t, path); got != "0123456789ab" {
		t.Fatalf("current = %q", got)
	}
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("cd")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := readString(t, path+".1"); got != "0123456789abcd" {
		t.Errorf(".1 = %q", got)
	}
	if got := readString(t, path); got != "" {
		t.Errorf("current = %q", got)
	}
}

// Reads running alongside writes and rotations see whole chunks only.
func TestConcurrentReadDuringRotation(t *testing.T) {
	for _, backups := range []int{0, 2} {
		t.Run(strconv.Itoa(backups), func(t *testing.T) {
			f, err := Open(filepath.Join(t.TempDir(), "c.log"), 2048, backups)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				defer close(done)
				for i := range 2000 {
					f.Write([]byte(line(i)))
				}
			})
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					b, err := f.Read(-200, 0)
					if err != nil {
						t.Error(err)
						return
					}
					if len(b) > 0 && b[len(b)-1] != '\n' || len(b)%85 != 0 && len(b) != 200 {
						t.Errorf("torn read %q", b)
						return
					}
					d, off, _, err := f.Tail(0, 170)
					if err != nil || len(d)%85 != 0 || off%85 != 0 {
						t.Errorf("torn tail %q %d %v", d, off, err)
						return
					}
				}
			})
			wg.Wait()
		})
	}
}

// Rotation shifts existing backups exactly as supervisord's probe of every
// slot would, whether it probes (few backups) or lists the directory (many):
// gaps stay gaps, the last slot is overwritten, and names that only look
// like backups are left alone.
func TestRotateShiftsLikeProbing(t *testing.T) {
	for _, backups := range []int{5, listBackupsOver + 8} {
		t.Run(strconv.Itoa(backups), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "n.log")
			existing := []string{"2", "4", strconv.Itoa(backups - 1), strconv.Itoa(backups), "07", "x", "-1"}
			for _, suffix := range existing {
				if err := os.WriteFile(path+"."+suffix, []byte("was ."+suffix), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// What probing every slot from backups-1 down to 1 gives.
			want := map[string]string{}
			for _, suffix := range existing {
				want[suffix] = "was ." + suffix
			}
			for i := backups - 1; i >= 1; i-- {
				s := strconv.Itoa(i)
				if c, ok := want[s]; ok {
					want[strconv.Itoa(i+1)] = c
					delete(want, s)
				}
			}
			want["1"] = "current\n"
			want[""] = ""

			f, err := Open(path, 8, backups)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("current\n")); err != nil {
				t.Fatal(err)
			}
			f.Close()

			got := map[string]string{}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				suffix, _ := strings.CutPrefix(strings.TrimPrefix(e.Name(), "n.log"), ".")
				got[suffix] = readString(t, filepath.Join(dir, e.Name()))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after rotation:\n got %q\nwant %q", got, want)
			}
		})
	}
}
