package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/internal/testkit"
)

// runSockServeRole is a server on the sockets tend hands over: with
// TEND_SOCKSERVE=fcgi it accepts on descriptor 0, with =listen on the
// LISTEN_FDS descriptors (after checking LISTEN_PID is its own pid). To
// each connection it writes one line describing what it got, then
// closes it. TEND_SOCKSERVE_DELAY (ms) waits before accepting: a slow
// start, during which connections must wait in the backlog.
func runSockServeRole() {
	fds := ownFDs() // first, before the runtime opens anything
	fail := func(format string, args ...any) {
		fmt.Printf("ERROR "+format+"\n", args...)
		os.Exit(3)
	}
	var files []*os.File
	var names []string
	listen, lpid := os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID")
	switch os.Getenv("TEND_SOCKSERVE") {
	case "fcgi":
		if v, err := unix.GetsockoptInt(0, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			fail("fd 0 is not a listening socket: %v", err)
		}
		files, names = []*os.File{os.NewFile(0, "fcgi")}, []string{"fcgi"}
	case "listen":
		if lpid != strconv.Itoa(os.Getpid()) {
			fail("LISTEN_PID=%q, my pid is %d", lpid, os.Getpid())
		}
		n, err := strconv.Atoi(listen)
		if err != nil || n < 1 {
			fail("LISTEN_FDS=%q", listen)
		}
		names = strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
		if len(names) != n {
			fail("LISTEN_FDNAMES=%q for %d fds", os.Getenv("LISTEN_FDNAMES"), n)
		}
		for i := range n {
			if v, err := unix.GetsockoptInt(3+i, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
				fail("fd %d is not a listening socket: %v", 3+i, err)
			}
			files = append(files, os.NewFile(uintptr(3+i), names[i]))
		}
	default:
		fail("TEND_SOCKSERVE=%q", os.Getenv("TEND_SOCKSERVE"))
	}
	if ms, _ := strconv.Atoi(os.Getenv("TEND_SOCKSERVE_DELAY")); ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	fmt.Println("serving")
	line := fmt.Sprintf("pid=%d fds=%s listen_fds=%s listen_pid=%s names=%s", os.Getpid(), fds, listen, lpid, os.Getenv("LISTEN_FDNAMES"))
	// On SIGTERM it stops accepting and answers what it accepted: the
	// connections still queued wait for the next instance.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if err := testkit.ServeSockets(files, term, func(i int) string { return fmt.Sprintf("%s name=%s\n", line, names[i]) }); err != nil {
		fail("%v", err)
	}
	os.Exit(0)
}

// ownFDs lists this process's descriptors, comma-separated, but for those
// its Go runtime opened before main.
func ownFDs() string {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return "?"
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var fds []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == int(d.Fd()) {
			continue
		}
		// The Go runtime's own: its netpoller and the cgroup CPU limit.
		l, _ := os.Readlink("/proc/self/fd/" + n)
		if !strings.HasPrefix(l, "anon_inode:") && !strings.HasPrefix(l, "/sys/fs/cgroup/") {
			fds = append(fds, fd)
		}
	}
	slices.Sort(fds)
	out := make([]string, len(fds))
	for i, fd := range fds {
		out[i] = strconv.Itoa(fd)
	}
	return strings.Join(out, ",")
}

// sockServe returns a spec running the sockserve role in mode.
func (h *harness) sockServe(name, mode string) Spec {
	h.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	s := h.spec(name, exe)
	s.Environment = map[string]string{testRoleEnv: "sockserve", "TEND_SOCKSERVE": mode}
	s.StopWait = 5 * time.Second
	return s
}

// ask connects to a socket URL and returns the line the server wrote.
func ask(network, addr string) (string, error) {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// field returns key's value in a "k=v k=v" line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func mustSocket(t *testing.T, url string) SocketSpec {
	t.Helper()
	sk, err := ParseSocketURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// inode returns the socket inode of the engine's held socket for url.
func heldInode(t *testing.T, e *Engine, url string) uint64 {
	t.Helper()
	for _, hs := range e.HeldSockets() {
		if hs.URL == url {
			var st unix.Stat_t
			if err := unix.Fstat(int(hs.File.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			return st.Ino
		}
	}
	t.Fatalf("%s is not held; held: %v", url, e.HeldSockets())
	return 0
}

func TestParseSocketURL(t *testing.T) {
	for _, c := range []struct{ in, url, err string }{
		{"tcp://LocalHost:8080", "tcp://localhost:8080", ""},
		{"tcp://[::1]:80", "tcp://[::1]:80", ""},
		{"unix:///run//x/../x.sock", "unix:///run/x.sock", ""},
		{"unix://run/x.sock", "", "not an absolute path"},
		{"tcp://host", "", "want"},
		{"tcp://host:0", "", "port must be"},
		{"tcp://:80", "", "want"},
		{"http://x:1", "", "bad socket"},
	} {
		sk, err := ParseSocketURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || sk.URL != c.url {
			t.Errorf("%s: %q %v, want %q", c.in, sk.URL, err, c.url)
		}
	}
	if sk, _ := ParseSocketURL("unix:///x"); sk.Mode != 0o700 || sk.Uid != -1 || sk.Gid != -1 {
		t.Errorf("unix defaults: %+v", sk)
	}
	if sk, _ := ParseSocketURL("tcp://a:1"); sk.Mode != -1 {
		t.Errorf("tcp mode: %+v", sk)
	}
}

// TestFCGISocketIsFd0 runs two instances of an fcgi program on one unix
// socket: each gets the listening socket as descriptor 0 and nothing but
// 0, 1 and 2; the path has the default mode 0700, and both instances
// answer on it.
func TestFCGISocketIsFd0(t *testing.T) {
	h := newHarness(t)
	path := filepath.Join(testkit.ShortTempDir(t), "fcgi.sock")
	var specs []Spec
	for i := range 2 {
		s := h.sockServe(fmt.Sprintf("fcgi_%d", i), "fcgi")
		s.Program, s.Group, s.Num, s.NumProcs = "fcgi", "fcgi", i, 2
		sk := mustSocket(t, "unix://"+path)
		s.Socket = &sk
		specs = append(specs, s)
	}
	h.update(specs...)
	h.waitState("fcgi:fcgi_0", Running, 0)
	h.waitState("fcgi:fcgi_1", Running, 0)
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket path: %v %v", st, err)
	}
	pids := map[string]bool{}
	testkit.WaitFor(t, "both instances to answer", 0, func() bool {
		line, err := ask("unix", path)
		if err != nil {
			t.Fatalf("ask: %v", err)
		}
		if fds := field(line, "fds"); fds != "0,1,2" {
			f, _ := h.e.LogFile("fcgi:fcgi_0", "stderr")
			t.Fatalf("child descriptors %q, want 0,1,2 (%s)\n%s", fds, line, readFile(t, f.Path()))
		}
		pids[field(line, "pid")] = true
		return len(pids) == 2
	})
	if err := h.e.SendStdin("fcgi:fcgi_0", []byte("x")); !isFault(err, FaultNoFile) {
		t.Errorf("SendStdin to an fcgi process: %v, want NO_FILE", err)
	}
}

func isFault(err error, f Fault) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Fault == f
}

// TestListenFDs passes two sockets with the socket-activation protocol:
// descriptors 3 and 4 in name order, LISTEN_FDS=2, LISTEN_FDNAMES, and
// LISTEN_PID equal to the child's own pid (the child checks it). The
// LISTEN_ variables tend itself inherited are not passed on.
func TestListenFDs(t *testing.T) {
	h := newHarness(t, Config{Environ: append(os.Environ(), "LISTEN_FDS=7", "LISTEN_PID=1", "LISTEN_FDNAMES=stale")})
	port := testkit.FreePort(t)
	path := filepath.Join(testkit.ShortTempDir(t), "admin.sock")
	s := h.sockServe("web", "listen")
	admin, web := mustSocket(t, "unix://"+path), mustSocket(t, fmt.Sprintf("tcp://127.0.0.1:%d", port))
	admin.Name, web.Name = "admin", "web"
	s.Sockets = []SocketSpec{admin, web}
	plain := h.spec("plain", "/bin/sh", "-c", `echo "LISTEN=$LISTEN_FDS/$LISTEN_PID/$LISTEN_FDNAMES"; exec sleep 100`)
	plain.Stdout.Path = h.file("plain.log")
	h.update(s, plain)
	info := h.waitState("web", Running, 0)
	h.waitState("plain", Running, 0)
	line, err := ask("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("ask web: %v (stdout: %s)", err, readFile(t, h.e.mustLog(t, "web")))
	}
	want := fmt.Sprintf("pid=%d fds=0,1,2,3,4 listen_fds=2 listen_pid=%d names=admin:web name=web", info.Pid, info.Pid)
	if line != want {
		t.Errorf("web answered\n%s\nwant\n%s", line, want)
	}
	if line, err := ask("unix", path); err != nil || field(line, "name") != "admin" {
		t.Errorf("admin answered %q, %v", line, err)
	}
	h.waitFile(h.file("plain.log"), "LISTEN=//\n", 0)
}

// mustLog returns the path of a process's stdout log.
func (e *Engine) mustLog(t *testing.T, name string) string {
	t.Helper()
	f, err := e.LogFile(name, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	return f.Path()
}

// TestHeldSocketSurvivesRestart restarts the only instance of a program
// whose replacement takes 300 ms to accept, while a client connects
// continuously: the socket (same inode) stays open, so every connection
// waits in the backlog and is served; none is refused.
func TestHeldSocketSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	s := h.sockServe("web", "fcgi")
	s.Environment["TEND_SOCKSERVE_DELAY"] = "300"
	sk := mustSocket(t, url)
	s.Socket = &sk
	h.update(s)
	first := h.waitState("web", Running, 0)
	ino := heldInode(t, h.e, url)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Four clients connect in a loop (at most 500 connections each) until
	// the new instance has served some.
	var mu sync.Mutex
	served := map[string]int{}
	var failed []error
	var slow int // connections that waited 100 ms or more
	count := func(pid int) int {
		mu.Lock()
		defer mu.Unlock()
		return served[strconv.Itoa(pid)]
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				line, err := ask("tcp", addr)
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else {
					served[field(line, "pid")]++
				}
				if time.Since(t0) >= 100*time.Millisecond {
					slow++
				}
				mu.Unlock()
			}
		})
	}
	testkit.WaitFor(t, "the first instance to serve the clients", 0, func() bool { return count(first.Pid) > 0 })
	if _, _, err := h.e.Restart(context.Background(), ParseTarget("web"), false); err != nil {
		t.Fatal(err)
	}
	second := h.waitState("web", Running, 0)
	testkit.WaitFor(t, "the new instance to serve the clients", 0, func() bool { return count(second.Pid) >= 8 })
	close(stop)
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d connections failed during the restart, first: %v", len(failed), failed[0])
	}
	if slow == 0 {
		t.Errorf("no connection waited for the new instance: the test did not cover the gap")
	}
	t.Logf("served: %v (old pid %d, new pid %d); %d connections waited >= 100 ms in the backlog, %d failed", served, first.Pid, second.Pid, slow, len(failed))
	if got := heldInode(t, h.e, url); got != ino {
		t.Errorf("socket inode %d after the restart, was %d: the socket was re-created", got, ino)
	}
}

// TestSocketUpdates follows a socket through updates: a new mode is
// applied in place (same socket), a new URL binds a new socket and
// closes the old one, and removing the program closes the socket and
// removes its path; a non-socket file at the path is refused.
func TestSocketUpdates(t *testing.T) {
	h := newHarness(t)
	dir := testkit.ShortTempDir(t)
	path := filepath.Join(dir, "a.sock")
	url := "unix://" + path
	s := h.sockServe("web", "fcgi")
	sk := mustSocket(t, url)
	sk.Mode, sk.Uid, sk.Gid = 0o660, 65534, 65534
	s.Socket = &sk
	h.update(s)
	h.waitState("web", Running, 0)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&0o777 != 0o660 || st.Uid != 65534 || st.Gid != 65534 {
		t.Fatalf("socket file: mode %o uid %d gid %d (%v), want 0660 65534:65534", st.Mode&0o777, st.Uid, st.Gid, err)
	}
	ino := heldInode(t, h.e, url)

	// A new mode: same socket, new mode.
	s2 := s
	sk2 := sk
	sk2.Mode = 0o600
	s2.Socket = &sk2
	h.update(s2)
	h.waitState("web", Running, 0)
	if err := unix.Stat(path, &st); err != nil || st.Mode&0o777 != 0o600 {
		t.Errorf("mode after update: %o %v", st.Mode&0o777, err)
	}
	if got := heldInode(t, h.e, url); got != ino {
		t.Errorf("a new mode re-created the socket")
	}

	// A new path: the old socket is closed and its file removed.
	path3 := filepath.Join(dir, "b.sock")
	s3 := s
	sk3 := mustSocket(t, "unix://"+path3)
	s3.Socket = &sk3
	h.update(s3)
	h.waitState("web", Running, 0)
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old socket file still there: %v", err)
	}
	if held := h.e.HeldSockets(); len(held) != 1 || held[0].URL != "unix://"+path3 {
		t.Errorf("held after the move: %v", held)
	}
	if _, err := ask("unix", path3); err != nil {
		t.Errorf("new socket: %v", err)
	}

	// Removed from the config: closed, file removed.
	h.update()
	if _, err := os.Lstat(path3); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file still there after removal: %v", err)
	}
	if held := h.e.HeldSockets(); len(held) != 0 {
		t.Errorf("still held after removal: %v", held)
	}

	// A regular file where the socket goes is not deleted.
	writeFile(t, path, "data", 0o644)
	_, err := h.e.Update(context.Background(), []Spec{s})
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("update over a regular file: %v", err)
	}
	if got := readFile(t, path); got != "data" {
		t.Errorf("the file was changed: %q", got)
	}
}

// TestSocketBindFailureChangesNothing: an update naming an address in use
// fails before it stops anything, and says why.
func TestSocketBindFailureChangesNothing(t *testing.T) {
	h := newHarness(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	old := h.spec("old", "sleep", "100")
	h.update(old)
	before := h.waitState("old", Running, 0)
	s := h.sockServe("web", "fcgi")
	sk := mustSocket(t, "tcp://"+busy.Addr().String())
	s.Socket = &sk
	changed := old
	changed.Command = []string{"sleep", "200"}
	_, err = h.e.Update(context.Background(), []Spec{changed, s})
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "web") {
		t.Fatalf("update: %v, want the bind error naming web", err)
	}
	if info, _ := h.e.Info("old"); info.Pid != before.Pid || info.State != Running {
		t.Errorf("old was touched: %+v", info)
	}
	if _, err := h.e.Info("web"); err == nil {
		t.Errorf("web was added")
	}
}

// TestInheritedSockets hands a second engine the sockets of a first one
// (as tend reexec does across execve): it serves on the same socket
// instead of binding anew, and closes an inherited socket nothing names.
func TestInheritedSockets(t *testing.T) {
	h := newHarness(t)
	port := testkit.FreePort(t)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	s := h.sockServe("web", "fcgi")
	sk := mustSocket(t, url)
	s.Socket = &sk
	h.update(s)
	h.waitState("web", Running, 0)
	ino := heldInode(t, h.e, url)
	var passed []HeldSocket
	for _, hs := range h.e.HeldSockets() {
		fd, err := unix.FcntlInt(hs.File.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			t.Fatal(err)
		}
		passed = append(passed, HeldSocket{URL: hs.URL, File: os.NewFile(uintptr(fd), hs.URL)})
	}
	spare, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	passed = append(passed, HeldSocket{URL: "tcp://127.0.0.1:1", File: os.NewFile(uintptr(spare), "spare")})
	h2 := newHarness(t, Config{Sockets: passed})
	s2 := s
	s2.Name, s2.Program, s2.Group = "web2", "web2", "web2"
	h2.update(s2)
	h2.waitState("web2", Running, 0)
	if got := heldInode(t, h2.e, url); got != ino {
		t.Errorf("second engine bound anew (inode %d, was %d)", got, ino)
	}
	if held := h2.e.HeldSockets(); len(held) != 1 {
		t.Errorf("second engine holds %v", held)
	}
	if fd := passed[len(passed)-1].File.Fd(); fd != ^uintptr(0) {
		t.Errorf("unused inherited socket still open (fd %d)", fd)
	}
}

// TestHoldSocketsAcrossReload: while held, a socket survives an update
// that drops every process (tend reload's first step) and is reused by
// the next one.
func TestHoldSocketsAcrossReload(t *testing.T) {
	h := newHarness(t)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", testkit.FreePort(t))
	s := h.sockServe("web", "fcgi")
	sk := mustSocket(t, url)
	s.Socket = &sk
	h.update(s)
	h.waitState("web", Running, 0)
	ino := heldInode(t, h.e, url)
	release := h.e.HoldSockets()
	h.update()
	if got := heldInode(t, h.e, url); got != ino {
		t.Fatalf("socket changed while held")
	}
	h.update(s)
	release()
	h.waitState("web", Running, 0)
	if got := heldInode(t, h.e, url); got != ino {
		t.Errorf("reload re-created the socket")
	}
	release() // a second call does nothing
	if len(h.e.HeldSockets()) != 1 {
		t.Errorf("held: %v", h.e.HeldSockets())
	}
}

// TestSocketSpecValidation: one URL set up two ways, two sockets of one
// name, and a ready fd inside the LISTEN_FDS range are refused.
func TestSocketSpecValidation(t *testing.T) {
	a, b := NewSpec("a", "true"), NewSpec("b", "true")
	x, y := mustSocket(t, "unix:///tmp/x.sock"), mustSocket(t, "unix:///tmp/x.sock")
	y.Mode = 0o600
	a.Socket, b.Socket = &x, &y
	if err := validateSpecs([]Spec{a, b}); err == nil || !strings.Contains(err.Error(), "differently") {
		t.Errorf("one URL, two modes: %v", err)
	}
	c := NewSpec("c", "true")
	x.Name, y.Name = "web", "web"
	c.Sockets = []SocketSpec{x, mustSocket(t, "tcp://a:1")}
	c.Sockets[1].Name = "web"
	if err := validateSpecs([]Spec{c}); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("one name twice: %v", err)
	}
	c.Sockets[1].Name = "api"
	c.Ready = &ReadySpec{FD: 4}
	if err := validateSpecs([]Spec{c}); err == nil || !strings.Contains(err.Error(), "ready.fd") {
		t.Errorf("ready.fd 4 with two sockets: %v", err)
	}
	c.Ready.FD = 5
	if err := validateSpecs([]Spec{c}); err != nil {
		t.Errorf("ready.fd 5 with two sockets: %v", err)
	}
}

// TestTrampolineKeepsPlacedFDs: a child started through the trampoline
// (umask set) still gets the descriptors tend placed above 2, here the
// ready fd 3 and a socket at 4; the trampoline used to mark every
// descriptor above 2 close-on-exec.
func TestTrampolineKeepsPlacedFDs(t *testing.T) {
	h := newHarness(t)
	s := h.spec("n", "/bin/sh", "-c", `echo ready >&3 && exec sleep 100`)
	s.Umask = 0o22
	s.Ready = &ReadySpec{FD: 4, Timeout: 10 * time.Second}
	web := mustSocket(t, fmt.Sprintf("tcp://127.0.0.1:%d", testkit.FreePort(t)))
	web.Name = "web"
	s.Sockets = []SocketSpec{web}
	s.Command = []string{"/bin/sh", "-c", `test "$LISTEN_PID" = $$ && test -S /proc/self/fd/3 && echo ready >&4 && exec sleep 100`}
	h.update(s)
	if info := h.waitState("n", Running, 0); !info.Ready {
		t.Errorf("not ready: %+v", info)
	}
}

// TestInheritedUnixSocketPathRemoved: a unix socket taken over from a
// previous tend is its own once taken: removing the program removes the
// path, as for a socket it bound itself.
func TestInheritedUnixSocketPathRemoved(t *testing.T) {
	path := filepath.Join(testkit.ShortTempDir(t), "u.sock")
	sk := mustSocket(t, "unix://"+path)
	h0, err := bindSocket(sk)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{Sockets: []HeldSocket{{URL: sk.URL, File: h0.file}}})
	s := h.sockServe("web", "fcgi")
	s.Socket = &sk
	h.update(s)
	h.waitState("web", Running, 0)
	if _, err := ask("unix", path); err != nil {
		t.Fatalf("ask: %v", err)
	}
	h.update()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("inherited socket's path after removal: %v", err)
	}
}

// TestRecoverAdoptsSocket: after a tend killed with SIGKILL, the adopted
// orphan of an fcgi program still holds the socket, so its address cannot
// be bound again; the new engine takes the socket from the orphan
// (pidfd_getfd) and the orphan's successor gets that same socket.
func TestRecoverAdoptsSocket(t *testing.T) {
	url := fmt.Sprintf("tcp://127.0.0.1:%d", testkit.FreePort(t))
	t.Setenv("TEND_TEST_SOCKET", url)
	prev := crashedInstance(t)
	h := newHarness(t, Config{StateFile: prev.state, Orphans: OrphansAdopt})
	specs := prevSpecs(h.dir)
	if _, err := h.e.Recover(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	h.update(specs...)
	orphan := prev.pids["sock"]
	if i, _ := h.e.Info("sock"); i.Pid != orphan || !i.Adopted {
		t.Fatalf("sock: %+v, want pid %d adopted", i, orphan)
	}
	ino := heldInode(t, h.e, url)
	if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", orphan)); link != fmt.Sprintf("socket:[%d]", ino) {
		t.Errorf("held socket inode %d, the orphan's fd 0 is %s", ino, link)
	}
	syscall.Kill(orphan, syscall.SIGKILL)
	h.waitSeq("sock", 10*time.Second, Running, Exited, Starting)
	i := h.waitState("sock", Running, 10*time.Second)
	if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", i.Pid)); link != fmt.Sprintf("socket:[%d]", ino) {
		t.Errorf("the orphan's successor has fd 0 %s, want socket:[%d]", link, ino)
	}
}
