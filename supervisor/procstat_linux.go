package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat is what the engine reads from /proc/PID/stat to tell a process
// from a later one that got the same pid.
type procStat struct {
	State byte   // R, S, D, Z...
	Pgid  int    // field 5
	Start uint64 // field 22: start time in clock ticks since boot
}

// statFields returns the fields of /proc/PID/stat from field 3 (state)
// on: f[k] is field k+3. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func statFields(pid int) ([]string, error) {
	b, err := readProcFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// readProcFile reads a small /proc file with three system calls. os.Open
// would take seven more: it offers every file it opens to the runtime's
// poller (fcntl, epoll_ctl refused, fcntl back) and fstats it to size the
// read, which for thousands of processes at a spawn or a sample adds up.
func readProcFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readProcStat reads the identity fields of /proc/PID/stat.
func readProcStat(pid int) (procStat, error) {
	f, err := statFields(pid)
	if err != nil {
		return procStat{}, err
	}
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	pgid, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return procStat{State: f[0][0], Pgid: pgid, Start: start}, nil
}

// bootID identifies the running kernel boot: start times count clock ticks
// since boot, so they only compare within one boot.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// clockTicks is USER_HZ, the unit of /proc start times: 100 on every Linux
// architecture Go supports (the kernel converts to it for userspace).
const clockTicks = 100

// startWallTime converts a start time in ticks since boot to wall-clock
// time, from btime in /proc/stat; the zero Time if that cannot be read.
func startWallTime(ticks uint64) time.Time {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			btime, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}
			}
			ms := int64(ticks) * 1000 / clockTicks
			return time.Unix(btime, 0).Add(time.Duration(ms) * time.Millisecond)
		}
	}
	return time.Time{}
}
