package supervisor

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memoryStep is how often a process with max_memory is sampled: a quarter
// of max_memory_for, within [250 ms, 5 s]. Only processes with the limit
// are ever sampled, and only while RUNNING.
func (p *process) memoryStep() time.Duration {
	return min(max(p.spec.MaxMemoryFor/4, 250*time.Millisecond), 5*time.Second)
}

// watchMemoryLocked arms the next max_memory sample of the running
// process. The sample reads /proc without Engine.mu; its answer is applied
// only if the same run is still RUNNING, and feeds the process's resource
// history as any other sample does: a limit is someone looking.
func (p *process) watchMemoryLocked() {
	if p.spec.MaxMemory <= 0 || p.state != Running || p.pid == 0 || p.shadowOf != nil {
		return
	}
	gen, pid := p.gen, p.pid
	p.e.clock.AfterFunc(p.memoryStep(), func() {
		rss, cpu := treeSample(pid)
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if p.gen == gen && p.pid == pid && p.state == Running {
			p.e.usage.mu.Lock()
			p.e.usage.recordLocked(p.spec.Namespec(), p.e.clock.Now(), pid, p.start, cpu, rss)
			p.e.usage.mu.Unlock()
			p.checkMemoryLocked(rss)
		}
	})
}

// checkMemoryLocked restarts p when its tree has stayed above max_memory
// for max_memory_for, and arms the next sample otherwise.
func (p *process) checkMemoryLocked(rss int64) {
	now := p.e.clock.Now()
	if rss <= p.spec.MaxMemory {
		p.memAbove = time.Time{}
		p.watchMemoryLocked()
		return
	}
	if p.memAbove.IsZero() {
		p.memAbove = now
	}
	if now.Sub(p.memAbove) < p.spec.MaxMemoryFor {
		p.watchMemoryLocked()
		return
	}
	reason := fmt.Sprintf("max_memory: the process tree used %s, above %s for %ss",
		FormatSize(rss), FormatSize(p.spec.MaxMemory), formatSecs(p.spec.MaxMemoryFor))
	p.logf(slog.LevelWarn, "restarting %s (pid %d): %s", p.spec.Name, p.pid, reason)
	p.limitReason = reason
	p.memoryRestarts++
	p.memAbove = time.Time{}
	p.stopReason = reason
	if p.requestStopLocked() == nil {
		p.restartAfterStop = true
	}
}

// afterMemoryStopLocked starts p again once the stop asked for by
// max_memory is done.
func (p *process) afterMemoryStopLocked() {
	if !p.restartAfterStop {
		return
	}
	p.restartAfterStop = false
	if p.removed || p.e.shuttingDown || p.userStopped {
		return
	}
	p.restarts++
	p.startLocked()
}

// treeSample sums the resident memory and the CPU seconds of root and its
// descendants, found through /proc/PID/task/TID/children: it reads only
// the tree, not every process of the machine. A single-threaded process
// (most of them) has its children read from its one task without listing
// the task folder.
func treeSample(root int) (rss int64, cpu float64) {
	var total int64
	var ticks uint64
	page := int64(os.Getpagesize())
	stack := []int{root}
	var buf [4096]byte
	for seen := 0; len(stack) > 0 && seen < 100000; seen++ {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pe, ok := readProcEntry(pid)
		if !ok {
			continue
		}
		total += pe.rssPg * page
		ticks += pe.cpu
		dir := "/proc/" + strconv.Itoa(pid) + "/task/"
		tasks := []string{dir + strconv.Itoa(pid) + "/children"}
		if pe.threads != 1 {
			tasks, _ = filepath.Glob(dir + "*/children")
		}
		for _, t := range tasks {
			stack = appendChildren(stack, t, buf[:])
		}
	}
	return total, float64(ticks) / clockTicks
}

// appendChildren appends the pids listed in a /proc children file to
// stack, reading the file into buf (a longer list is read in several
// reads).
func appendChildren(stack []int, path string, buf []byte) []int {
	f, err := os.Open(path)
	if err != nil {
		return stack
	}
	defer f.Close()
	var rest []byte
	for {
		n, err := f.Read(buf)
		rest = append(rest, buf[:n]...)
		if err != nil || n == 0 {
			break
		}
	}
	for _, w := range strings.Fields(string(rest)) {
		if c, err := strconv.Atoi(w); err == nil {
			stack = append(stack, c)
		}
	}
	return stack
}
