package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// listenRoleEnv makes the test binary a server on the sockets tend passes
// with LISTEN_FDS (runListenRole).
const listenRoleEnv = "TEND_E2E_LISTEN"

// runListenRole serves each LISTEN_FDS socket, after checking LISTEN_PID
// is its own pid: to each connection it writes "pid name" and closes it.
// On SIGTERM it stops accepting and exits once the accepted ones are
// answered. TEND_E2E_LISTEN_DELAY (ms) delays the first accept.
func runListenRole() {
	if os.Getenv(listenRoleEnv) != "1" {
		return
	}
	if pid := os.Getenv("LISTEN_PID"); pid != strconv.Itoa(os.Getpid()) {
		fmt.Printf("LISTEN_PID=%q, my pid is %d\n", pid, os.Getpid())
		os.Exit(3)
	}
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	if n < 1 || len(names) != n {
		fmt.Printf("LISTEN_FDS=%q LISTEN_FDNAMES=%q\n", os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
		os.Exit(3)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if ms, _ := strconv.Atoi(os.Getenv("TEND_E2E_LISTEN_DELAY")); ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	files := make([]*os.File, n)
	for i := range n {
		files[i] = os.NewFile(uintptr(3+i), names[i])
	}
	err := testkit.ServeSockets(files, term, func(i int) string { return fmt.Sprintf("%d %s\n", os.Getpid(), names[i]) })
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	os.Exit(0)
}

// A program with sockets = {} under the real daemon: two instances share
// one listening socket, and while `tend restart` and `tend reload` replace
// them, clients connecting all the time are all served: none is refused.
func TestE2E_HeldSocketsAcrossRestartAndReload(t *testing.T) {
	port := testkit.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d := startDaemon(t, fmt.Sprintf(`program "web" {
  command = { %q }, numprocs = 2, process_name = "web_%%(process_num)d", startsecs = 0,
  environment = { %s = "1", TEND_E2E_LISTEN_DELAY = "200" },
  sockets = { http = "tcp://%s" },
}`, os.Args[0], listenRoleEnv, addr))
	d.waitStatus("web:web_0", "RUNNING")
	d.waitStatus("web:web_1", "RUNNING")

	l := startSocketLoad(addr)
	total := l.total
	waitFor(t, "clients served", func() bool { return total() > 20 })
	for _, args := range [][]string{{"restart", "web:*"}, {"reload"}} {
		if out, rc := d.ctl(args...); rc != 0 {
			t.Fatalf("%v: %s", args, out)
		}
		d.waitStatus("web:web_0", "RUNNING")
		d.waitStatus("web:web_1", "RUNNING")
		now := total()
		waitFor(t, "clients served after "+args[0], func() bool { return total() > now+20 })
	}
	l.finish(t)
}

// socketLoad is four clients connecting to a held socket over and over
// (at most 3000 times each), counting the connections each pid served,
// those that waited over 100 ms in the backlog, and the failures.
type socketLoad struct {
	mu     sync.Mutex
	served map[string]int
	waited int
	failed []error
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startSocketLoad(addr string) *socketLoad {
	l := &socketLoad{served: map[string]int{}, stop: make(chan struct{})}
	for range 4 {
		l.wg.Go(func() {
			for range 3000 {
				select {
				case <-l.stop:
					return
				default:
				}
				t0 := time.Now()
				line, err := askLine(addr)
				l.mu.Lock()
				if err != nil {
					l.failed = append(l.failed, err)
				} else {
					l.served[strings.Fields(line)[0]]++
				}
				if time.Since(t0) > 100*time.Millisecond {
					l.waited++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// total is the number of connections served so far.
func (l *socketLoad) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.served {
		n += c
	}
	return n
}

// finish stops the clients and fails t if any connection failed.
func (l *socketLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("served %d connections by %d instances, %d waited > 100 ms in the backlog, %d failed", l.total(), len(l.served), l.waited, len(l.failed))
	if len(l.failed) > 0 {
		t.Errorf("%d connections failed, first: %v", len(l.failed), l.failed[0])
	}
}

// askLine connects to addr and returns the line the server wrote.
func askLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}
