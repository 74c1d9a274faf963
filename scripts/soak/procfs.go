package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStat is what the harness reads about one process from /proc.
type procStat struct {
	pid, ppid int
	state     byte // R, S, D, Z, T...
	threads   int
	rss       int64 // bytes
	starttime uint64
}

// readStat parses /proc/PID/stat and /proc/PID/status.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	st := procStat{pid: pid, state: f[0][0]}
	st.ppid, _ = strconv.Atoi(f[1])
	st.threads, _ = strconv.Atoi(f[17])
	st.starttime, _ = strconv.ParseUint(f[19], 10, 64)
	rssPages, _ := strconv.ParseInt(f[21], 10, 64)
	st.rss = rssPages * int64(os.Getpagesize())
	return st, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}

// fdCount counts the open file descriptors of pid.
func fdCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// fds lists the open file descriptor numbers of pid.
func fds(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// allPids lists every pid in /proc.
func allPids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// childrenOf returns the stats of pid's direct children.
func childrenOf(pid int) []procStat {
	var out []procStat
	for _, p := range allPids() {
		if st, err := readStat(p); err == nil && st.ppid == pid {
			out = append(out, st)
		}
	}
	return out
}

// zombiesOf counts pid's children in state Z.
func zombiesOf(pid int) int {
	n := 0
	for _, c := range childrenOf(pid) {
		if c.state == 'Z' {
			n++
		}
	}
	return n
}

// environ reads the environment of pid as a map ("" map on error, which
// is what a zombie or a process of another user gives).
func environ(pid int) map[string]string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			m[k] = v
		}
	}
	return m
}

// marked is a live process that carries the run's marker in its
// environment: the daemon, or something it (or a former instance) spawned.
type marked struct {
	pid     int
	ppid    int
	process string // SUPERVISOR_GROUP_NAME:SUPERVISOR_PROCESS_NAME, "" for none
	daemon  bool   // the process is a tend daemon (no SUPERVISOR_ENABLED)
}

// markedProcesses finds the live (non-zombie) processes whose environment
// holds key=value.
func markedProcesses(key, value string) []marked {
	var out []marked
	self := os.Getpid()
	for _, p := range allPids() {
		if p == self {
			continue
		}
		env := environ(p)
		if env == nil || env[key] != value {
			continue
		}
		st, err := readStat(p)
		if err != nil || st.state == 'Z' {
			continue
		}
		m := marked{pid: p, ppid: st.ppid}
		if env["SUPERVISOR_ENABLED"] == "1" {
			m.process = env["SUPERVISOR_GROUP_NAME"] + ":" + env["SUPERVISOR_PROCESS_NAME"]
		} else {
			m.daemon = true
		}
		out = append(out, m)
	}
	return out
}

// dirBytes sums the sizes of the regular files directly in dir.
func dirBytes(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}
