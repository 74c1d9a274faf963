package testkit

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of the given size ("256k", "4M") on a fresh
// directory, unmounted when the test ends (register it before anything
// that keeps files open there, so their cleanup runs first). Without the
// right to mount it skips, naming the reason; under CI=true it fails
// instead when the process has CAP_SYS_ADMIN, since the mount should then
// have worked.
func MountTmpfs(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("CI") == "true" && hasCapSysAdmin() {
			tb.Fatalf("mount a tmpfs on %s: %v (the process has CAP_SYS_ADMIN)", dir, err)
		}
		tb.Skipf("a full disk needs a small tmpfs, and mounting one failed: %v", err)
	}
	tb.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// hasCapSysAdmin reports whether CAP_SYS_ADMIN (bit 21) is in the
// effective set.
func hasCapSysAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<21) != 0
		}
	}
	return false
}

// FillDisk writes a file in dir until its file system is full, and returns
// a function that removes it.
func FillDisk(tb testing.TB, dir string) (free func()) {
	tb.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				tb.Fatal(err)
			}
			break
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(path); err != nil {
			tb.Fatal(err)
		}
	}
}
