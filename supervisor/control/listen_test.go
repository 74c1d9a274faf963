package control

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
)

func TestListenUnix(t *testing.T) {
	dir := testkit.ShortTempDir(t)
	path := filepath.Join(dir, "sub", "tend.sock")

	first, err := ListenUnix(path, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket mode %v, %v; want 0700 by default", fi.Mode().Perm(), err)
	}
	live := first
	go func() { // answer the liveness check as a daemon would
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	// A live socket is refused, naming who holds it.
	_, err = ListenUnix(path, 0o700, "")
	if err == nil || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+") is already listening on "+path) {
		t.Errorf("second listener: %v, want a refusal naming pid %d", err, os.Getpid())
	}
	live.Close()

	// A stale socket file (nobody listens) is replaced; the mode applies.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := ListenUnix(path, 0o770, "")
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	defer ln.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o770 {
		t.Errorf("mode %v, want 0770", fi.Mode().Perm())
	}
	if _, err := ListenUnix(filepath.Join(dir, "x.sock"), 0, "no-such-user-here"); err == nil ||
		!strings.Contains(err.Error(), `socket owner "no-such-user-here"`) {
		t.Errorf("unknown owner: %v", err)
	}
}
