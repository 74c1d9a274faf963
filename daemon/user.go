package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/tend-sh/tend/supervisor"
)

// dropPrivileges makes the daemon run as user (daemon{ user }), as
// supervisord's [supervisord] user= does. It is called once the control
// socket, the main log and the pidfile are open, so those may live where
// only root can create files; the files it created (owned) are handed to
// the user so that reopening the log keeps working. Every thread changes
// identity (Go's syscall.Setuid does so on Linux since Go 1.16), so no
// goroutine keeps root. It returns what it did, for the log.
func dropPrivileges(user string, owned []string) (string, error) {
	c, err := supervisor.LookupCredential(user)
	if err != nil {
		return "", fmt.Errorf("daemon user: %w", err)
	}
	if uint32(os.Getuid()) == c.Uid {
		return "", nil // already that user (user = "root" as root)
	}
	if os.Getuid() != 0 {
		return "", fmt.Errorf("can't drop privilege as nonroot user: tend runs as uid %d, not root, so it cannot become %q (remove user from daemon{} or start tend as root)", os.Getuid(), user)
	}
	for _, path := range owned {
		if path == "" {
			continue
		}
		if err := os.Lchown(path, int(c.Uid), int(c.Gid)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("hand %s to user %s: %w", path, user, err)
		}
	}
	groups := make([]int, 0, len(c.Groups))
	for _, g := range c.Groups {
		groups = append(groups, int(g))
	}
	if err := syscall.Setgroups(groups); err != nil {
		return "", fmt.Errorf("set groups of user %s: %w", user, err)
	}
	if err := syscall.Setgid(int(c.Gid)); err != nil {
		return "", fmt.Errorf("set gid %d of user %s: %w", c.Gid, user, err)
	}
	if err := syscall.Setuid(int(c.Uid)); err != nil {
		return "", fmt.Errorf("set uid %d of user %s: %w", c.Uid, user, err)
	}
	return fmt.Sprintf("Set uid to user %s (uid %d) succeeded", user, c.Uid), nil
}
