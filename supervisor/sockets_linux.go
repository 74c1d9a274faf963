package supervisor

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Held sockets. The engine binds each socket once, keeps it for as long as
// a process of the config uses its URL, and gives every spawn a copy of the
// descriptor: restarts, rolling restarts and reloads that keep the URL reuse
// the one socket, so connections wait in its backlog while no instance
// accepts. The daemon's own descriptor is close-on-exec and never accepted
// on; children get theirs placed by fork/exec (descriptor 0 for an fcgi
// socket, 3 and up for sockets = { … }). The socket is made with plain
// syscalls, in blocking mode as supervisord and systemd hand sockets over:
// Go's net package would make it non-blocking, a flag the children share.

// HeldSocket is one socket the engine holds, for a re-exec to pass across
// execve: its URL and the engine's descriptor (close-on-exec; the engine
// owns it: do not close it).
type HeldSocket struct {
	URL  string
	File *os.File
}

// heldSocket is a bound, listening socket and what was applied to it.
type heldSocket struct {
	spec SocketSpec
	file *os.File
	// dev and ino identify the path of a unix socket, so that closing it
	// removes only the file this engine made.
	dev, ino uint64
}

// socketTable is the engine's registry of held sockets, under Engine.mu.
type socketTable struct {
	held map[string]*heldSocket // by URL
	// inherited are sockets a previous tend passed over (Config.Sockets),
	// taken instead of binding anew; the first sweep closes those unused.
	inherited map[string]*os.File
	holds     int // HoldSockets calls not yet released: no sweep closes
}

// HeldSockets returns the sockets the engine holds, sorted by URL. A
// re-exec clears close-on-exec on each File just before execve and hands
// the new engine the same list as Config.Sockets.
func (e *Engine) HeldSockets() []HeldSocket {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]HeldSocket, 0, len(e.sockets.held))
	for _, url := range slices.Sorted(maps.Keys(e.sockets.held)) {
		out = append(out, HeldSocket{URL: url, File: e.sockets.held[url].file})
	}
	return out
}

// HoldSockets keeps every held socket open, even when no process uses it
// any more, until release is called: a full reload (Update(nil) then
// Update(specs)) then keeps the sockets its new config still names, and
// connections wait in their backlogs meanwhile. release may be called more
// than once.
func (e *Engine) HoldSockets() (release func()) {
	e.mu.Lock()
	e.sockets.holds++
	e.mu.Unlock()
	done := false
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if !done {
			done = true
			e.sockets.holds--
			e.sweepSocketsLocked()
		}
	}
}

// openSocketsLocked makes sure every socket of specs is held and set up as
// they ask, before an update stops anything: an address that cannot be
// bound fails the update with nothing changed. Sockets bound here and
// then not needed are closed again on failure.
func (e *Engine) openSocketsLocked(specs []Spec) error {
	var opened []string
	for i := range specs {
		for j, sk := range specs[i].allSockets() {
			fresh := e.sockets.held[sk.URL] == nil
			if o := e.adoptable[specs[i].Namespec()]; fresh && o != nil {
				e.socketFromOrphanLocked(o, socketFD(&specs[i], j), sk)
			}
			if _, err := e.socketLocked(sk); err != nil {
				for _, url := range opened {
					e.closeSocketLocked(url)
				}
				return fmt.Errorf("%s: %w", specs[i].Namespec(), err)
			}
			if fresh {
				opened = append(opened, sk.URL)
			}
		}
	}
	return nil
}

// socketFD returns the descriptor a child of s has its j-th socket of
// allSockets on.
func socketFD(s *Spec, j int) int {
	if s.Socket != nil {
		if j == 0 {
			return 0
		}
		j--
	}
	return 3 + j
}

// socketFromOrphanLocked takes the listening socket for sk from a process
// a previous tend left running, to be adopted (Recover with OrphansAdopt):
// it still holds the socket, so binding the address again would fail, and
// it and its successors must share one socket. pidfd_getfd(2) copies the
// orphan's descriptor fd, which must be a listening socket at sk's
// address. On failure the socket is bound as usual (and the error names
// the address in use).
func (e *Engine) socketFromOrphanLocked(o *orphan, fd int, sk SocketSpec) {
	pidfd := o.pidfd
	if pidfd < 0 {
		var err error
		if pidfd, err = unix.PidfdOpen(o.Pid, 0); err != nil {
			return
		}
		defer unix.Close(pidfd)
	}
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0) // close-on-exec, as pidfd_getfd makes it
	if err == nil {
		err = checkListening(nfd, sk)
		if err != nil {
			unix.Close(nfd)
		}
	}
	if err != nil {
		e.log.Warn(fmt.Sprintf("socket %s: cannot take it from '%s' (pid %d) left running by a previous tend: %v", sk.URL, o.Name, o.Pid, err))
		return
	}
	if e.sockets.inherited == nil {
		e.sockets.inherited = map[string]*os.File{}
	}
	e.sockets.inherited[sk.URL] = os.NewFile(uintptr(nfd), sk.URL)
}

// checkListening reports whether fd is a listening socket bound where sk
// says.
func checkListening(fd int, sk SocketSpec) error {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return fmt.Errorf("descriptor is not a listening socket")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("getsockname: %w", err)
	}
	var port int
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		if path, _ := sk.Unix(); a.Name == path {
			return nil
		}
		return fmt.Errorf("descriptor is bound to %s", a.Name)
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	if _, p, _ := net.SplitHostPort(strings.TrimPrefix(sk.URL, "tcp://")); p == strconv.Itoa(port) {
		return nil
	}
	return fmt.Errorf("descriptor is bound to port %d", port)
}

// socketLocked returns the held socket for sk, binding it (or taking the
// one a previous tend passed over) the first time, and applying a new
// backlog, mode or owner to it in place.
func (e *Engine) socketLocked(sk SocketSpec) (*os.File, error) {
	if e.sockets.held == nil {
		e.sockets.held = map[string]*heldSocket{}
	}
	h := e.sockets.held[sk.URL]
	if h == nil {
		var err error
		verb := "Creating socket "
		if f := e.sockets.inherited[sk.URL]; f != nil {
			delete(e.sockets.inherited, sk.URL)
			h, verb = &heldSocket{file: f}, "Taking over socket "
			h.dev, h.ino = socketFileID(unixPath(sk))
			err = h.setup(sk, unixPath(sk))
		} else {
			h, err = bindSocket(sk)
		}
		if err != nil {
			if h != nil {
				h.file.Close()
			}
			return nil, fmt.Errorf("socket %s: %w", sk.URL, err)
		}
		e.sockets.held[sk.URL] = h
		e.log.Info(verb + sk.URL)
		return h.file, nil
	}
	if !sameSocket(h.spec, sk) {
		if err := h.setup(sk, unixPath(sk)); err != nil {
			return nil, fmt.Errorf("socket %s: %w", sk.URL, err)
		}
	}
	return h.file, nil
}

// sweepSocketsLocked closes the held sockets no process uses any more,
// and those a previous tend passed over that the config does not name.
func (e *Engine) sweepSocketsLocked() {
	if e.sockets.holds > 0 {
		return
	}
	used := map[string]bool{}
	for _, p := range e.procs {
		for _, sk := range p.spec.allSockets() {
			used[sk.URL] = true
		}
	}
	for url := range e.sockets.held {
		if !used[url] {
			e.closeSocketLocked(url)
		}
	}
	for url, f := range e.sockets.inherited {
		f.Close()
		delete(e.sockets.inherited, url)
	}
}

// closeAllSocketsLocked closes every held socket (shutdown).
func (e *Engine) closeAllSocketsLocked() {
	for url := range e.sockets.held {
		e.closeSocketLocked(url)
	}
	for url, f := range e.sockets.inherited {
		f.Close()
		delete(e.sockets.inherited, url)
	}
}

// closeSocketLocked closes one held socket and removes its unix path,
// if the path is still the socket this engine bound.
func (e *Engine) closeSocketLocked(url string) {
	h := e.sockets.held[url]
	if h == nil {
		return
	}
	delete(e.sockets.held, url)
	if err := h.file.Close(); err != nil {
		e.log.Warn(fmt.Sprintf("close socket %s: %v", url, err))
	}
	if path, ok := h.spec.Unix(); ok && h.ino != 0 {
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil && st.Dev == h.dev && st.Ino == h.ino {
			if err := os.Remove(path); err != nil {
				e.log.Warn(fmt.Sprintf("remove socket %s: %v", path, err))
			}
		}
	}
	e.log.Info("Closing socket " + url)
}

// bindSocket makes a listening socket for sk: blocking, close-on-exec.
func bindSocket(sk SocketSpec) (*heldSocket, error) {
	if path, ok := sk.Unix(); ok {
		return bindUnix(sk, path)
	}
	return bindTCP(sk)
}

// bindTCP binds an IPv4 address (supervisord's AF_INET) or, for an IPv6
// host, an IPv6 one, with SO_REUSEADDR as supervisord.
func bindTCP(sk SocketSpec) (*heldSocket, error) {
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(sk.URL, "tcp://"))
	n, _ := strconv.Atoi(port)
	ip := net.ParseIP(host)
	if ip == nil {
		addr, err := net.ResolveIPAddr("ip4", host)
		if err != nil {
			if addr, err = net.ResolveIPAddr("ip6", host); err != nil {
				return nil, fmt.Errorf("resolve %s: %w", host, err)
			}
		}
		ip = addr.IP
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ip.To4(); ip4 != nil {
		a := &unix.SockaddrInet4{Port: n}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: n}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	h := &heldSocket{file: os.NewFile(uintptr(fd), sk.URL)}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		h.file.Close()
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		h.file.Close()
		return nil, fmt.Errorf("bind: %w", err)
	}
	if err := h.setup(sk, ""); err != nil {
		h.file.Close()
		return nil, err
	}
	return h, nil
}

// bindUnix binds a unix socket at path and sets it up: owner and mode
// first, then listen, so that nobody connects before the mode applies. A
// stale socket left by a previous run is replaced as supervisord does;
// unlike supervisord, a path that is not a socket, or a socket something
// still accepts on, is an error rather than deleted. (Binding elsewhere
// and renaming would leave the socket's own name, which getsockname shows
// the child, wrong.)
func bindUnix(sk SocketSpec, path string) (*heldSocket, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use: something accepts connections on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	h := &heldSocket{file: os.NewFile(uintptr(fd), sk.URL)}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		h.file.Close()
		return nil, fmt.Errorf("bind: %w", err)
	}
	h.dev, h.ino = socketFileID(path)
	if err := h.setup(sk, path); err != nil {
		h.file.Close()
		os.Remove(path)
		return nil, err
	}
	return h, nil
}

// socketFileID returns the device and inode of the socket file at path,
// zeros when there is none (or path is "").
func socketFileID(path string) (dev, ino uint64) {
	var st unix.Stat_t
	if path == "" || unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return 0, 0
	}
	return st.Dev, st.Ino
}

// setup applies sk's owner and mode to a unix socket's path, then its
// backlog (listen(2) on a listening socket changes the backlog in place),
// and records sk.
func (h *heldSocket) setup(sk SocketSpec, path string) error {
	if path != "" {
		if sk.Uid >= 0 || sk.Gid >= 0 {
			if err := os.Lchown(path, sk.Uid, sk.Gid); err != nil {
				return fmt.Errorf("could not change ownership of socket file: %w", err)
			}
		}
		if sk.Mode >= 0 {
			if err := os.Chmod(path, os.FileMode(sk.Mode)); err != nil {
				return fmt.Errorf("could not change permissions of socket file: %w", err)
			}
		}
	}
	backlog := sk.Backlog
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	if err := unix.Listen(int(h.file.Fd()), backlog); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	h.spec = sk
	return nil
}

// unixPath returns the path of a unix socket spec, "" for TCP.
func unixPath(sk SocketSpec) string {
	path, _ := sk.Unix()
	return path
}

// socketFilesLocked returns the descriptors a spawn of s places: its fcgi
// socket (nil without one) and its sockets = { … } in order.
func (e *Engine) socketFilesLocked(s *Spec) (fcgi *os.File, listen []*os.File, err error) {
	if s.Socket != nil {
		if fcgi, err = e.socketLocked(*s.Socket); err != nil {
			return nil, nil, err
		}
	}
	for _, sk := range s.Sockets {
		f, err := e.socketLocked(sk)
		if err != nil {
			return nil, nil, err
		}
		listen = append(listen, f)
	}
	return fcgi, listen, nil
}

// listenEnv returns env without the LISTEN_ variables tend may have
// inherited (their descriptors are not the child's), plus, when the child
// gets sockets, LISTEN_FDS and LISTEN_FDNAMES for them. LISTEN_PID, which
// must be the child's own pid, is set by the trampoline that execs it.
func listenEnv(env []string, s *Spec) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "LISTEN_") {
			out = append(out, kv)
			continue
		}
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
		default:
			out = append(out, kv)
		}
	}
	if len(s.Sockets) == 0 {
		return out
	}
	names := make([]string, len(s.Sockets))
	for i, sk := range s.Sockets {
		names[i] = sk.Name
	}
	return append(out, "LISTEN_FDS="+strconv.Itoa(len(s.Sockets)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
}
