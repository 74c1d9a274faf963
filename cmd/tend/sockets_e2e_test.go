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
	var lns []net.Listener
	var wg sync.WaitGroup
	for i := range n {
		ln, err := net.FileListener(os.NewFile(uintptr(3+i), names[i]))
		if err != nil {
			fmt.Println("listener:", err)
			os.Exit(3)
		}
		lns = append(lns, ln)
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%d %s\n", os.Getpid(), names[i])
				c.Close()
			}
		})
	}
	<-term
	for _, ln := range lns {
		ln.Close()
	}
	wg.Wait()
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

	var mu sync.Mutex
	served, waited := map[string]int{}, 0
	var failed []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3000 {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				line, err := askLine(addr)
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else {
					served[strings.Fields(line)[0]]++
				}
				if time.Since(t0) > 100*time.Millisecond {
					waited++
				}
				mu.Unlock()
			}
		})
	}
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range served {
			n += c
		}
		return n
	}
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
	close(stop)
	wg.Wait()
	t.Logf("served %d connections by %d instances, %d waited > 100 ms in the backlog, %d failed", total(), len(served), waited, len(failed))
	if len(failed) > 0 {
		t.Errorf("%d connections failed, first: %v", len(failed), failed[0])
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
