// Command bareloop is the floor compare.py measures supervisors against:
// one Go program that forks and execs N children (sleep, each with its
// own output pipe, in its own process group and with the environment, as
// a supervisor spawns them)
// as fast as it can, replaces a child that dies as soon as it reaps it
// (the floor of kill -9 → replacement), then on SIGTERM kills them all.
// compare.py times it with the same poller as the supervisors.
//
//	bareloop N
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

// children are the running sleeps and the read ends of their pipes, held
// as a supervisor holds them.
type children struct {
	mu       sync.Mutex
	held     map[int]*os.File
	stopping bool
	sleep    string
	devnull  *os.File
	environ  []string
}

func (c *children) spawn() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	// The children get this process's environment, as a supervisor's do:
	// with none (ForkExec's nil Env), sleep skips loading the locale that
	// LANG names, some 30 system calls fewer than any supervised child.
	pid, err := syscall.ForkExec(c.sleep, []string{"sleep", "1000000"}, &syscall.ProcAttr{
		Env:   c.environ,
		Files: []uintptr{c.devnull.Fd(), w.Fd(), w.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	c.held[pid] = r
	return nil
}

// reap waits for children until none is left, replacing each one that
// dies before SIGTERM.
func (c *children) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return // ECHILD: all gone
		}
		c.mu.Lock()
		if r := c.held[pid]; r != nil {
			r.Close()
			delete(c.held, pid)
			if !c.stopping {
				if err := c.spawn(); err != nil {
					fmt.Fprintln(os.Stderr, err)
				}
			}
		}
		c.mu.Unlock()
	}
}

func main() {
	n, err := strconv.Atoi(os.Args[len(os.Args)-1])
	if err != nil || len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bareloop N")
		os.Exit(2)
	}
	c := &children{held: make(map[int]*os.File, n), sleep: "/bin/sleep", environ: os.Environ()}
	if _, err := os.Stat(c.sleep); err != nil {
		c.sleep = "/usr/bin/sleep"
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if c.devnull, err = os.Open(os.DevNull); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c.mu.Lock()
	for range n {
		if err := c.spawn(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			break
		}
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.reap(); close(done) }()
	<-sigs
	c.mu.Lock()
	c.stopping = true
	for pid := range c.held {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	c.mu.Unlock()
	<-done
}
