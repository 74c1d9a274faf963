package logfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// readers returns the ways to read the same 680-byte log: an open File, a
// closed File (through the path) and ReadPath/TailPath.
func readers(t *testing.T) (content string, open, closed *File, path string) {
	t.Helper()
	dir := t.TempDir()
	content = lines(53, 60) // 680 bytes, like rot3.log
	path = filepath.Join(dir, "r.log")
	var err error
	if open, err = Open(path, 0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { open.Close() })
	open.Write([]byte(content))
	if closed, err = Open(path, 0, 0); err != nil {
		t.Fatal(err)
	}
	closed.Close()
	return content, open, closed, path
}

func TestRead(t *testing.T) {
	content, open, closed, path := readers(t)
	sz := int64(len(content))
	tests := []struct {
		name           string
		offset, length int64
		want           string
		err            error
	}{
		{"all", 0, 0, content, nil},
		{"range", 10, 5, content[10:15], nil},
		{"range to end", 600, 0, content[600:], nil},
		{"range past end clipped", 675, 10, content[675:], nil},
		{"at end", sz, 0, "", nil},
		{"past end", 1000, 10, "", nil},
		{"tail 100", -100, 0, content[sz-100:], nil},
		{"tail 1600 (supervisorctl tail)", -1600, 0, content, nil},
		{"tail exact", -sz, 0, content, nil},
		{"negative offset with length", -5, 1, "", ErrBadArguments},
		{"negative length", 5, -1, "", ErrBadArguments},
		{"huge", 1 << 62, 1 << 62, "", nil},
		{"huge negative", -1 << 62, 0, content, nil},
	}
	for _, tt := range tests {
		for _, r := range []struct {
			name string
			read func(o, l int64) ([]byte, error)
		}{
			{"File", open.Read},
			{"closed File", closed.Read},
			{"ReadPath", func(o, l int64) ([]byte, error) { return ReadPath(path, o, l) }},
		} {
			t.Run(tt.name+"/"+r.name, func(t *testing.T) {
				got, err := r.read(tt.offset, tt.length)
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if string(got) != tt.want {
					t.Errorf("got %d bytes %q, want %d bytes", len(got), got, len(tt.want))
				}
			})
		}
	}
}

func TestTail(t *testing.T) {
	content, open, closed, path := readers(t)
	sz := int64(len(content))
	tests := []struct {
		name           string
		offset, length int64
		want           string
		overflow       bool
	}{
		{"first call, all fits", 0, 1600, content, false},
		{"first call, overflow", 0, 100, content[sz-100:], true},
		{"nothing new", sz, 1024, "", false},
		{"exactly the rest", 600, 80, content[600:], false},
		// supervisord's tailFile returns the last length bytes here, not
		// [offset, sz).
		{"rest shorter than length", 600, 100, content[sz-100:], false},
		{"rest, length > size", 600, 1024, content, false},
		{"file shrank", 900, 10, "", false},
		{"zero length", 0, 0, "", true},
		{"last byte", sz - 1, 1, content[sz-1:], false},
		{"negative offset", -5, 0, "", true},
		{"negative length", 0, -5, "", true},
	}
	for _, tt := range tests {
		for _, r := range []struct {
			name string
			tail func(o, l int64) ([]byte, int64, bool, error)
		}{
			{"File", open.Tail},
			{"closed File", closed.Tail},
			{"TailPath", func(o, l int64) ([]byte, int64, bool, error) { return TailPath(path, o, l) }},
		} {
			t.Run(tt.name+"/"+r.name, func(t *testing.T) {
				got, off, ovf, err := r.tail(tt.offset, tt.length)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want || off != sz || ovf != tt.overflow {
					t.Errorf("got (%d bytes, %d, %v), want (%d bytes, %d, %v)", len(got), off, ovf, len(tt.want), sz, tt.overflow)
				}
			})
		}
	}
}

func TestReadTailMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.log")
	if _, err := ReadPath(missing, 0, 0); !errors.Is(err, ErrNoFile) {
		t.Errorf("ReadPath: %v, want ErrNoFile", err)
	}
	// supervisord checks the file before the arguments.
	if _, err := ReadPath(missing, -1, 1); !errors.Is(err, ErrNoFile) {
		t.Errorf("ReadPath bad args: %v, want ErrNoFile", err)
	}
	if d, off, ovf, err := TailPath(missing, 10, 10); d != nil || off != 0 || ovf || err != nil {
		t.Errorf("TailPath = %q, %d, %v, %v", d, off, ovf, err)
	}
	// A closed File whose file is gone.
	f, err := Open(missing, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(missing)
	if _, err := f.Read(0, 0); !errors.Is(err, ErrNoFile) {
		t.Errorf("Read: %v", err)
	}
}

// Reads see every byte written before them, across rotations.
func TestReadAfterRotation(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "rr.log"), 1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 1; i <= 15; i++ {
		f.Write([]byte(line(i)))
	}
	got, err := f.Read(-1600, 0)
	if err != nil || string(got) != lines(14, 15) {
		t.Errorf("Read = %q, %v", got, err)
	}
	d, off, _, err := f.Tail(0, 1024)
	if err != nil || string(d) != lines(14, 15) || off != 170 {
		t.Errorf("Tail = %q, %d, %v", d, off, err)
	}
}

func TestReadSince(t *testing.T) {
	type step struct {
		op   string // "w" write, "clear", "reopen", "close", "r" ReadSince
		arg  string // data for "w"
		max  int64  // for "r"
		want string // for "r"
	}
	tests := []struct {
		name     string
		maxBytes int64
		backups  int
		steps    []step
	}{
		{"first screen and appends", 0, 0, []step{
			{op: "w", arg: "0123456789"},
			{op: "r", max: 4, want: "6789"},
			{op: "r", want: ""},
			{op: "w", arg: "ab"}, {op: "w", arg: "cd"},
			{op: "r", want: "abcd"},
			{op: "w", arg: "efghij"},
			{op: "r", max: 3, want: "hij"},
		}},
		{"zero cursor, no limit", 0, 0, []step{
			{op: "w", arg: "abc"},
			{op: "r", want: "abc"},
		}},
		{"one rotation: rest of .1 then new file", 10, 2, []step{
			{op: "w", arg: "0123"},
			{op: "r", want: "0123"},
			{op: "w", arg: "456"}, {op: "w", arg: "789"}, // rotates after 789
			{op: "w", arg: "ab"},
			{op: "r", want: "456789ab"},
			{op: "r", want: ""},
		}},
		{"one rotation with limit", 10, 2, []step{
			{op: "r", want: ""},
			{op: "w", arg: "0123456789"}, // rotates
			{op: "w", arg: "ab"},
			{op: "r", max: 5, want: "789ab"},
		}},
		{"two rotations: new file from start", 4, 3, []step{
			{op: "r", want: ""},
			{op: "w", arg: "0123"}, {op: "w", arg: "4567"}, {op: "w", arg: "89"},
			{op: "r", want: "89"},
		}},
		{"truncating rotation: new file from start", 4, 0, []step{
			{op: "w", arg: "01"},
			{op: "r", want: "01"},
			{op: "w", arg: "23"}, {op: "w", arg: "45"},
			{op: "r", want: "45"},
		}},
		{"clear", 0, 0, []step{
			{op: "w", arg: "0123"},
			{op: "r", want: "0123"},
			{op: "clear"},
			{op: "w", arg: "ab"},
			{op: "r", want: "ab"},
		}},
		{"reopen", 0, 0, []step{
			{op: "w", arg: "0123"},
			{op: "r", want: "0123"},
			{op: "reopen"},
			{op: "w", arg: "ab"},
			{op: "r", want: "ab"}, // the same file: go on
		}},
		{"reopen after move", 0, 0, []step{
			{op: "w", arg: "0123"},
			{op: "r", want: "0123"},
			{op: "move"},
			{op: "reopen"},
			{op: "w", arg: "ab"},
			{op: "r", want: "ab"}, // a new file from its start
		}},
		{"close", 0, 0, []step{
			{op: "r", want: ""},
			{op: "w", arg: "ab"},
			{op: "close"},
			{op: "r", want: "ab"},
			{op: "r", want: ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(filepath.Join(t.TempDir(), "s.log"), tt.maxBytes, tt.backups)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var c Cursor
			for i, s := range tt.steps {
				var err error
				switch s.op {
				case "w":
					_, err = f.Write([]byte(s.arg))
				case "clear":
					err = f.Clear()
				case "reopen":
					err = f.Reopen()
				case "close":
					err = f.Close()
				case "move":
					err = os.Rename(f.Path(), f.Path()+".old")
				case "r":
					var data []byte
					data, c, err = f.ReadSince(c, s.max)
					if string(data) != s.want {
						t.Errorf("step %d: ReadSince = %q, want %q", i, data, s.want)
					}
				}
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, s.op, err)
				}
			}
		})
	}
}

// A follower using Changed and ReadSince sees the whole stream when it
// keeps up (here: the writer waits for it after every chunk).
func TestReadSinceFollower(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "fol.log"), 1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []byte
	ack := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var c Cursor
		for {
			ch := f.Changed()
			data, next, err := f.ReadSince(c, 0)
			if err != nil {
				t.Error(err)
				return
			}
			c = next
			got = append(got, data...)
			if len(data) > 0 {
				ack <- struct{}{}
			}
			<-ch
			if isClosed(f) {
				return
			}
		}
	}()
	for i := range 200 {
		b := []byte(line(i))
		want = append(want, b...)
		f.Write(b)
		<-ack
	}
	f.Close()
	<-done
	if string(got) != string(want) {
		t.Errorf("follower got %d bytes, want %d", len(got), len(want))
	}
}

func isClosed(f *File) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}
