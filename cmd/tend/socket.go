package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/vm"
)

// errSocketInUse is the refusal to start when a live daemon owns the
// socket, in supervisord's words.
var errSocketInUse = errors.New("Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.")

// listenUnix listens on the control socket. It refuses a socket a live
// process answers on, removes a stale one, creates the directory, and
// applies the configured mode and owner.
func listenUnix(sc vm.SocketConfig) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(sc.Path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if _, err := os.Lstat(sc.Path); err == nil {
		conn, err := net.DialTimeout("unix", sc.Path, time.Second)
		if err == nil {
			conn.Close()
			return nil, errSocketInUse
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOTSOCK) {
			return nil, fmt.Errorf("check socket %s: %w", sc.Path, err)
		}
		if err := os.Remove(sc.Path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", sc.Path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", sc.Path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	mode := sc.Mode
	if mode == 0 {
		mode = 0o700
	}
	if err := os.Chmod(sc.Path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	if sc.Owner != "" {
		if err := chownSocket(sc.Path, sc.Owner); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// chownSocket applies owner "user" or "user:group".
func chownSocket(path, owner string) error {
	name, group, _ := strings.Cut(owner, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("socket owner %q: %w", owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("socket owner %q: %w", owner, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown socket: %w", err)
	}
	return nil
}
