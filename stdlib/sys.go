package stdlib

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"
)

// defaultSysRoot is the filesystem root the sys module reads /proc and
// /sys under; tests point it at a fake tree.
const defaultSysRoot = "/"

// loadSys returns the loader of the sys module reading under root. Every
// function that reads /proc or /sys runs under g.
func loadSys(g *guard, root string) lua.LGFunction {
	num := func(name string, f func() (lua.LValue, error)) lua.LGFunction {
		return func(L *lua.LState) int {
			v, err := do(g, L, name, func(context.Context) (lua.LValue, error) { return f() })
			if err != nil {
				raise(L, name, err)
			}
			L.Push(v)
			return 1
		}
	}
	return func(L *lua.LState) int {
		L.Push(newModule(L, map[string]lua.LGFunction{
			"cpus": num("sys.cpus", func() (lua.LValue, error) {
				return lua.LNumber(CPUs(root)), nil
			}),
			"cpus_online": num("sys.cpus_online", func() (lua.LValue, error) {
				return lua.LNumber(onlineCPUs(root)), nil
			}),
			"memory": num("sys.memory", func() (lua.LValue, error) {
				n, err := memTotal(root)
				if err != nil {
					return nil, err
				}
				return lua.LNumber(n), nil
			}),
			"memory_limit": num("sys.memory_limit", func() (lua.LValue, error) {
				if n, ok := memLimit(root); ok {
					return lua.LNumber(n), nil
				}
				return lua.LNil, nil
			}),
			"hostname": num("sys.hostname", func() (lua.LValue, error) {
				h, err := os.Hostname()
				if err != nil {
					return nil, err
				}
				return lua.LString(h), nil
			}),
			"loadavg": func(L *lua.LState) int {
				// sysinfo(2) does not block: no guard needed.
				var si unix.Sysinfo_t
				if err := unix.Sysinfo(&si); err != nil {
					L.RaiseError("sys.loadavg: %v", err)
				}
				for _, l := range si.Loads {
					L.Push(lua.LNumber(float64(l) / (1 << unix.SI_LOAD_SHIFT)))
				}
				return 3
			},
		}))
		return 1
	}
}

// CPUs returns how many CPUs this process may use: the CPUs it is allowed
// to run on, reduced by a cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us)
// CPU quota, rounded up, and at least 1. root is normally "/".
func CPUs(root string) int {
	n := runtime.NumCPU()
	if q, ok := cpuQuota(root); ok {
		if c := int(math.Ceil(q)); c < n {
			n = c
		}
	}
	return max(n, 1)
}

// onlineCPUs counts the CPUs listed in /sys/devices/system/cpu/online
// ("0-3,6"), falling back to runtime.NumCPU.
func onlineCPUs(root string) int {
	b, err := os.ReadFile(filepath.Join(root, "sys/devices/system/cpu/online"))
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			return runtime.NumCPU()
		}
		n += b - a + 1
	}
	return max(n, 1)
}

// cgroupDirs returns, for each controller in /proc/self/cgroup, the
// candidate folders of this process's cgroup and its ancestors, innermost
// first. The v2 hierarchy has the key "".
func cgroupDirs(root, controller string) []string {
	f, err := os.Open(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var base string
		switch {
		case parts[0] == "0" && parts[1] == "" && controller == "":
			base = filepath.Join(root, "sys/fs/cgroup")
		case controller != "" && slices.Contains(strings.Split(parts[1], ","), controller):
			base = filepath.Join(root, "sys/fs/cgroup", parts[1])
		default:
			continue
		}
		// Inside a container the cgroup namespace usually maps our
		// cgroup to the mount's root, so try the path and every ancestor.
		for p := filepath.Clean("/" + parts[2]); ; p = filepath.Dir(p) {
			dirs = append(dirs, filepath.Join(base, p))
			if p == "/" {
				break
			}
		}
	}
	return dirs
}

// cpuQuota returns the smallest CPU quota (in CPUs) found on this process's
// cgroup path, v2 first, then v1.
func cpuQuota(root string) (float64, bool) {
	best, found := math.Inf(1), false
	for _, d := range cgroupDirs(root, "") {
		b, err := os.ReadFile(filepath.Join(d, "cpu.max"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) != 2 || f[0] == "max" {
			continue
		}
		q, err1 := strconv.ParseFloat(f[0], 64)
		p, err2 := strconv.ParseFloat(f[1], 64)
		if err1 == nil && err2 == nil && q > 0 && p > 0 && q/p < best {
			best, found = q/p, true
		}
	}
	if found {
		return best, true
	}
	for _, d := range cgroupDirs(root, "cpu") {
		q, err1 := readInt(filepath.Join(d, "cpu.cfs_quota_us"))
		p, err2 := readInt(filepath.Join(d, "cpu.cfs_period_us"))
		if err1 == nil && err2 == nil && q > 0 && p > 0 && float64(q)/float64(p) < best {
			best, found = float64(q)/float64(p), true
		}
	}
	return best, found
}

// memTotal returns MemTotal from /proc/meminfo in bytes.
func memTotal(root string) (int64, error) {
	f, err := os.Open(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/meminfo: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// memLimit returns the smallest cgroup memory limit on this process's
// cgroup path (v2 memory.max, v1 memory.limit_in_bytes), if there is one
// below the machine's memory.
func memLimit(root string) (int64, bool) {
	total, err := memTotal(root)
	if err != nil {
		total = math.MaxInt64
	}
	best, found := total, false
	try := func(path string) {
		n, err := readInt(path)
		if err == nil && n > 0 && n < best {
			best, found = n, true
		}
	}
	for _, d := range cgroupDirs(root, "") {
		try(filepath.Join(d, "memory.max"))
	}
	for _, d := range cgroupDirs(root, "memory") {
		try(filepath.Join(d, "memory.limit_in_bytes"))
	}
	return best, found
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
