// Command bareloop is the floor compare.py measures supervisors against:
// one Go program that forks and execs N children (sleep, each with its
// own output pipe, in its own process group, as a supervisor spawns them)
// as fast as it can, then waits for a signal and kills them. compare.py
// times it with the same poller as the supervisors.
//
//	bareloop N
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	n, err := strconv.Atoi(os.Args[len(os.Args)-1])
	if err != nil || len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bareloop N")
		os.Exit(2)
	}
	sleep := "/bin/sleep"
	if _, err := os.Stat(sleep); err != nil {
		sleep = "/usr/bin/sleep"
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pids := make([]int, 0, n)
	held := make([]*os.File, 0, n) // the read ends, held as a supervisor holds them
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			break
		}
		pid, err := syscall.ForkExec(sleep, []string{"sleep", "1000000"}, &syscall.ProcAttr{
			Files: []uintptr{devnull.Fd(), w.Fd(), w.Fd()},
			Sys:   &syscall.SysProcAttr{Setpgid: true},
		})
		w.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			break
		}
		held = append(held, r)
		pids = append(pids, pid)
	}
	<-sigs
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for range pids {
		var ws syscall.WaitStatus
		syscall.Wait4(-1, &ws, 0, nil)
	}
	for _, r := range held {
		r.Close()
	}
}
