package supervisor

import (
	"math"
	"time"
)

// UsageStep is the spacing of a process's resource history: at most one
// point per step-aligned slot of the clock, however often it is sampled.
const UsageStep = 5 * time.Second

// UsageHistoryPoints is how many points the resource history keeps per
// process: ten minutes at UsageStep.
const UsageHistoryPoints = 120

// UsagePoint is one point of a process's resource history.
type UsagePoint struct {
	Time time.Time
	// CPUPercent is the tree's CPU use since the previous point of the
	// same run (or since the run started); 100 is one core.
	CPUPercent float64
	RSS        int64 // bytes, summed over the tree
}

// usageSlot is a UsagePoint packed into 16 bytes: the ring of 120 of them
// costs under 2 KiB per process.
type usageSlot struct {
	ms  int64   // Unix milliseconds
	cpu float32 // percent
	kib uint32  // RSS in KiB (up to 4 TiB)
}

// usageRing is the resource history of one process: a fixed array written
// in place, so recording a point allocates nothing. It belongs to the
// engine's usageCache and is only touched under its mutex.
type usageRing struct {
	slots [UsageHistoryPoints]usageSlot
	n     int // points held, up to UsageHistoryPoints
	next  int // where the next point goes
	// pid and cpu are the run and cumulative CPU seconds of the newest
	// point, so the next point's CPU % covers the interval between them.
	pid int
	cpu float64
}

// record adds the sample taken at now of the run pid (started at start,
// with cpu seconds of CPU used so far) unless the ring already has a point
// in now's step-aligned slot. It reports whether it added one.
func (r *usageRing) record(now time.Time, pid int, start time.Time, cpu float64, rss int64) bool {
	ms := now.UnixMilli()
	step := UsageStep.Milliseconds()
	last := r.slots[(r.next+UsageHistoryPoints-1)%UsageHistoryPoints].ms
	if r.n > 0 && floorDiv(ms, step) <= floorDiv(last, step) {
		return false
	}
	pct := 0.0
	if r.n > 0 && r.pid == pid && last >= start.UnixMilli() {
		if d := float64(ms-last) / 1000; d > 0 {
			pct = (cpu - r.cpu) / d * 100
		}
	} else if d := now.Sub(start).Seconds(); !start.IsZero() && d > 0 {
		pct = cpu / d * 100
	}
	r.slots[r.next] = usageSlot{ms: ms, cpu: float32(max(0, pct)), kib: uint32(min(max(rss, 0)>>10, math.MaxUint32))}
	r.next = (r.next + 1) % UsageHistoryPoints
	r.n = min(r.n+1, UsageHistoryPoints)
	r.pid, r.cpu = pid, cpu
	return true
}

// since returns the points after t (all of them when t is zero), oldest
// first.
func (r *usageRing) since(t time.Time) []UsagePoint {
	after := int64(math.MinInt64)
	if !t.IsZero() {
		after = t.UnixMilli()
	}
	var out []UsagePoint
	for k := range r.n {
		s := r.slots[(r.next-r.n+k+UsageHistoryPoints)%UsageHistoryPoints]
		if s.ms > after {
			out = append(out, UsagePoint{Time: time.UnixMilli(s.ms), CPUPercent: float64(s.cpu), RSS: int64(s.kib) << 10})
		}
	}
	return out
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// recordLocked adds a sample of the process named key to its history,
// creating the ring at its first sample: a process nobody ever looked at
// has none. The caller holds c.mu.
func (c *usageCache) recordLocked(key string, now time.Time, pid int, start time.Time, cpu float64, rss int64) {
	r := c.hist[key]
	if r == nil {
		if c.hist == nil {
			c.hist = map[string]*usageRing{}
		}
		r = &usageRing{}
		c.hist[key] = r
	}
	r.record(now, pid, start, cpu, rss)
}

// forget drops the history of a process the engine no longer has.
func (c *usageCache) forget(key string) {
	c.mu.Lock()
	delete(c.hist, key)
	c.mu.Unlock()
}

// UsageHistory returns the resource history of each process of infos (by
// its namespec), in the order of infos: the points after since (all the
// ring holds when since is zero), oldest first. A process has points only
// for the slots when something sampled it — a Usage call (the web page, tend
// top, a scrape, tend status -v) or its max_memory watch — so a daemon that
// nobody looks at records nothing.
func (e *Engine) UsageHistory(infos []Info, since time.Time) [][]UsagePoint {
	out := make([][]UsagePoint, len(infos))
	e.usage.mu.Lock()
	defer e.usage.mu.Unlock()
	for n, i := range infos {
		if r := e.usage.hist[i.Namespec()]; r != nil {
			out[n] = r.since(since)
		}
	}
	return out
}

// SampleHistory samples the running processes of infos for their history
// and returns the newest point of each, in the order of infos (the zero
// point for a process not running or not yet measured in its current
// run). It reads only each process's own tree, CPU and memory (the web
// page's sample, once per step): far less than Usage, which reads every
// process of the machine and each one's descriptors and I/O. A process
// that already has a point in this step is not read again, so several
// pages open cost what one does.
func (e *Engine) SampleHistory(infos []Info) []UsagePoint {
	now := e.clock.Now()
	slot := floorDiv(now.UnixMilli(), UsageStep.Milliseconds())
	need := make([]bool, len(infos))
	e.usage.mu.Lock()
	for n, i := range infos {
		r := e.usage.hist[i.Namespec()]
		need[n] = i.Pid != 0 && (r == nil || r.pid != i.Pid || floorDiv(r.newest().Time.UnixMilli(), UsageStep.Milliseconds()) < slot)
	}
	e.usage.mu.Unlock()
	type sample struct {
		rss int64
		cpu float64
	}
	samples := make([]sample, len(infos))
	for n, i := range infos {
		if need[n] {
			samples[n].rss, samples[n].cpu = treeSample(i.Pid)
		}
	}
	out := make([]UsagePoint, len(infos))
	e.usage.mu.Lock()
	defer e.usage.mu.Unlock()
	for n, i := range infos {
		if i.Pid == 0 {
			continue
		}
		key := i.Namespec()
		// No memory means no measurement: the process was gone, or not
		// yet exec'd.
		if need[n] && samples[n].rss != 0 {
			e.usage.recordLocked(key, now, i.Pid, i.Start, samples[n].cpu, samples[n].rss)
		}
		if r := e.usage.hist[key]; r != nil && r.n > 0 && r.pid == i.Pid {
			out[n] = r.newest()
		}
	}
	return out
}

// newest returns the newest point; the ring must hold one.
func (r *usageRing) newest() UsagePoint {
	s := r.slots[(r.next+UsageHistoryPoints-1)%UsageHistoryPoints]
	return UsagePoint{Time: time.UnixMilli(s.ms), CPUPercent: float64(s.cpu), RSS: int64(s.kib) << 10}
}
