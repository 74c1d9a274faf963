package control

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
)

// socketInUse is the refusal to start when a live process answers on the
// socket: it names the socket, the pid of the process that listens on it
// (from the connection's peer credentials) and how to shut it down.
func socketInUse(path string, conn net.Conn) error {
	who := "Another program"
	if pid := peerPid(conn); pid > 0 {
		who = fmt.Sprintf("Another program (pid %d)", pid)
	}
	return fmt.Errorf("%s is already listening on %s. Shut it down first (tend -s unix://%s shutdown) before starting tend.", who, path, path)
}

// peerPid returns the pid of the process at the other end of a unix
// socket connection, or 0 when the kernel does not say.
func peerPid(conn net.Conn) int {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}

// ListenUnix listens on the control socket at path. It refuses a socket a
// live process answers on (naming its pid), removes a stale one, creates
// the directory, and applies mode (0 means 0700) and owner ("user" or
// "user:group"; "" leaves the daemon's).
func ListenUnix(path string, mode os.FileMode, owner string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		conn, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			defer conn.Close()
			return nil, socketInUse(path, conn)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOTSOCK) {
			return nil, fmt.Errorf("check socket %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if mode == 0 {
		mode = 0o700
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	if owner != "" {
		if err := chownSocket(path, owner); err != nil {
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
