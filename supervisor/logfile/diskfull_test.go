package logfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
)

// Issue 11, defect 7: what a full disk drops is counted, and once writing
// works again one line says how much, on a line of its own.
func TestDiskFullMarker(t *testing.T) {
	dir := testkit.MountTmpfs(t, "256k")
	path := filepath.Join(dir, "out.log")
	f, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("before\npartial")); err != nil {
		t.Fatal(err)
	}
	free := testkit.FillDisk(t, dir)
	// The file's first page still has room: fill it, then fail.
	big := []byte(strings.Repeat("x", 4095) + "\n")
	var dropped, lines int
	for i := 0; i < 10; i++ {
		n, err := f.Write(big)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write: %v, want ENOSPC", err)
		}
		dropped += len(big) - n
		if n < len(big) {
			lines++
		}
	}
	if dropped == 0 {
		t.Fatal("the disk never filled up")
	}
	free()
	if _, err := f.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "\n[tend: " + strconv.Itoa(lines) + " lines (" + strconv.Itoa(dropped) + " bytes) dropped while the disk was full]\nafter\n"
	if !strings.HasPrefix(string(b), "before\npartial") || !strings.HasSuffix(string(b), want) {
		t.Errorf("log ends %q, want %q", tail(string(b), 120), want)
	}
	if strings.Count(string(b), "[tend:") != 1 {
		t.Errorf("%d markers, want 1", strings.Count(string(b), "[tend:"))
	}
	if _, err := f.Write([]byte("more\n")); err != nil || !strings.HasSuffix(readAll(t, path), "after\nmore\n") {
		t.Errorf("the marker was written twice, or the next write failed: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A pass-through that always fails (/dev/full) counts its losses the same
// way and never writes a marker while it keeps failing.
func TestDevFullCountsLoss(t *testing.T) {
	f, err := Open("/dev/full", 0, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer f.Close()
	for i := 0; i < 3; i++ {
		if n, err := f.Write([]byte("a\nb\n")); n != 0 || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write to /dev/full: %d, %v", n, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost.bytes != 12 || f.lost.lines != 6 {
		t.Errorf("lost %+v, want 12 bytes, 6 lines", f.lost)
	}
}
