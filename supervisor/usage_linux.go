package supervisor

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Usage is what one supervised process costs, counted over the process and
// every live descendant (its tree by parent pid, so a grandchild that left
// the process group still counts). It is read from /proc when somebody asks
// for it: nothing samples in the background.
type Usage struct {
	Pid   int // the supervised process; 0 when it is not running
	Procs int // processes in the tree, the supervised one included
	// CPUSeconds is user+system time of the tree: the live processes plus
	// the children they have already reaped.
	CPUSeconds float64
	// CPUPercent is the tree's CPU use since the previous sample of this
	// process, or since its start at the first sample; 100 is one core.
	CPUPercent float64
	RSS        int64 // resident set size in bytes, summed over the tree
	FDs        int   // open file descriptors (only those /proc lets us count)
	Threads    int
	// ReadBytes and WriteBytes are storage I/O from /proc/PID/io; IOKnown is
	// false when the kernel did not let the daemon read it.
	ReadBytes, WriteBytes int64
	IOKnown               bool
}

// procEntry is what the sampler reads of one /proc/PID/stat.
type procEntry struct {
	ppid    int
	cpu     uint64 // utime+stime+cutime+cstime, clock ticks
	threads int
	rssPg   int64
}

// usageCache remembers the last sample of each supervised pid so that the
// next sample can give CPU % over the interval between the two.
// It also holds each process's resource history (usagehist.go), which
// every sample feeds: the cache is the one owner of both.
type usageCache struct {
	mu   sync.Mutex
	last map[int]usageMarks    // by pid
	hist map[string]*usageRing // by namespec
}

type usageMark struct {
	at  time.Time
	cpu float64
}

// usageMarks are a pid's two newest samples. Several viewers (a top, the
// web page, a scrape) sample on their own clocks: CPU % is measured from
// the newest mark at least minCPUWindow old, so a viewer sampling just
// after another still gets a figure over a useful interval, not 0 or noise
// over a few milliseconds.
type usageMarks struct{ older, newer usageMark }

// minCPUWindow is the shortest interval a CPU % is measured over when an
// older mark allows it.
const minCPUWindow = time.Second

// baseline returns the time and CPU seconds that the CPU % of a sample
// taken at now is measured from, for a run started at start.
func (m usageMarks) baseline(now, start time.Time) (time.Time, float64) {
	for _, k := range []usageMark{m.newer, m.older} {
		if k.at.After(start) && now.Sub(k.at) >= minCPUWindow {
			return k.at, k.cpu
		}
	}
	// Both are younger: the older of this run gives the longest interval.
	for _, k := range []usageMark{m.older, m.newer} {
		if k.at.After(start) {
			return k.at, k.cpu
		}
	}
	return start, 0
}

// add records the sample taken at now, keeping the previous newest as the
// older mark once it is minCPUWindow old.
func (m usageMarks) add(now time.Time, cpu float64) usageMarks {
	if m.newer.at.IsZero() || now.Sub(m.newer.at) >= minCPUWindow {
		m.older = m.newer
	}
	m.newer = usageMark{at: now, cpu: cpu}
	return m
}

// Usage samples /proc for every process of infos that has a pid, in one
// pass over /proc, and returns the figures in the order of infos. Processes
// without a pid get a zero Usage.
func (e *Engine) Usage(infos []Info) []Usage {
	out := make([]Usage, len(infos))
	table := readProcTable()
	kids := map[int][]int{}
	for pid, pe := range table {
		kids[pe.ppid] = append(kids[pe.ppid], pid)
	}
	now := e.clock.Now()
	e.usage.mu.Lock()
	defer e.usage.mu.Unlock()
	seen := map[int]usageMarks{}
	for n, i := range infos {
		if i.Pid == 0 {
			continue
		}
		if _, ok := table[i.Pid]; !ok {
			continue
		}
		u := treeUsage(i.Pid, table, kids)
		marks := e.usage.last[i.Pid]
		since, base := marks.baseline(now, i.Start)
		if d := now.Sub(since).Seconds(); d > 0 && !since.IsZero() {
			u.CPUPercent = max(0, (u.CPUSeconds-base)/d*100)
		}
		seen[i.Pid] = marks.add(now, u.CPUSeconds)
		e.usage.recordLocked(i.Namespec(), now, i.Pid, i.Start, u.CPUSeconds, u.RSS)
		out[n] = u
	}
	// Only the pids of this sample are kept: the cache never grows past the
	// processes alive now.
	e.usage.last = seen
	return out
}

// treeUsage sums the figures of root and its descendants.
func treeUsage(root int, table map[int]procEntry, kids map[int][]int) Usage {
	u := Usage{Pid: root}
	var ticks uint64
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pe, ok := table[pid]
		if !ok {
			continue
		}
		u.Procs++
		ticks += pe.cpu
		u.Threads += pe.threads
		u.RSS += pe.rssPg * int64(os.Getpagesize())
		u.FDs += countFDs(pid)
		if r, w, ok := readProcIO(pid); ok {
			u.ReadBytes += r
			u.WriteBytes += w
			u.IOKnown = true
		}
		stack = append(stack, kids[pid]...)
	}
	u.CPUSeconds = float64(ticks) / clockTicks
	return u
}

// readProcTable reads /proc/PID/stat of every process on the machine. A
// process that exits while it is read is left out.
func readProcTable() map[int]procEntry {
	table := map[int]procEntry{}
	d, err := os.Open("/proc")
	if err != nil {
		return table
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if pe, ok := readProcEntry(pid); ok {
			table[pid] = pe
		}
	}
	return table
}

// readProcEntry parses the fields the sampler needs from /proc/PID/stat.
func readProcEntry(pid int) (procEntry, bool) {
	f, err := statFields(pid)
	if err != nil || len(f) < 22 {
		return procEntry{}, false
	}
	num := func(k int) uint64 { v, _ := strconv.ParseUint(f[k], 10, 64); return v }
	ppid, _ := strconv.Atoi(f[1])
	// Fields 14-17 are utime, stime, cutime, cstime; 20 num_threads; 24 rss.
	return procEntry{
		ppid:    ppid,
		cpu:     num(11) + num(12) + num(13) + num(14),
		threads: int(num(17)),
		rssPg:   int64(num(21)),
	}, true
}

// countFDs counts the entries of /proc/PID/fd; 0 when it cannot be read.
func countFDs(pid int) int {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	return len(names)
}

// readProcIO reads read_bytes and write_bytes of /proc/PID/io, which only
// the process's owner (or root) may read.
func readProcIO(pid int) (r, w int64, ok bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := 0
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "read_bytes":
			r, found = n, found+1
		case "write_bytes":
			w, found = n, found+1
		}
	}
	return r, w, found == 2
}
