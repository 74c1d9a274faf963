package vm

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// DefaultMemoryLimit is the memory budget of one Lua call when the config
// sets no lua_memory_limit: far more than any config or hook needs (a
// thousand programs load in a few MB), far less than what hurts a host.
const DefaultMemoryLimit = 64 << 20

// memCheckEvery is how often the heap is sampled while a Lua call runs.
// At the few GB/s a Lua loop can allocate, a call overshoots its budget
// by at most a few tens of MB before it is stopped.
const memCheckEvery = 5 * time.Millisecond

// returnAfterGrowth is how much a call may grow the heap before the memory
// is handed back to the OS when it ends, whatever ended it: a hook that
// built a large table and was stopped by its deadline (or finished) leaves
// that much garbage, which Go's background scavenger would return only
// slowly, keeping the daemon's RSS up for minutes.
const returnAfterGrowth = 32 << 20

// heapMetric is the bytes held by heap objects, live or not yet swept.
const heapMetric = "/memory/classes/heap/objects:bytes"

// BudgetError is the cause of a call stopped for its memory: while it
// ran, the process's live heap grew by Grown bytes, more than Limit.
//
// What the budget bounds: gopher-lua has no allocator hook, so while a
// Lua call (config run, hook, eval chunk, Resolve) runs, a watchdog
// samples the Go heap every few milliseconds; when it has grown by more
// than the budget since the call began, a full GC separates live data
// from garbage, and if the live heap is still over, the call's context is
// cancelled with this cause (Lua stops at its next instruction). After
// such a stop the Lua stack is unwound, a GC runs and the freed memory is
// handed back to the OS (debug.FreeOSMemory).
//
// What it does not bound: the heap is process-wide, so memory the rest of
// the daemon allocates during the call counts against it (the confirming
// GC makes that rare: only live growth counts), and two VMs running at
// once (during a reload) share it. A single Go builtin call is only
// stopped once it returns (string.rep is capped at 64 MiB per call for
// that reason). Memory a call leaves reachable from the Lua state (a
// global table it filled) stays allocated until the VM is replaced; the
// next call starts its own budget from there.
type BudgetError struct {
	Grown, Limit int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("memory budget exceeded: the heap grew by %s (lua_memory_limit is %s)",
		humanize.IBytes(uint64(max(e.Grown, 0))), humanize.IBytes(uint64(e.Limit)))
}

// heapBytes reads heapMetric.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// watchMemory enforces v's memory budget on the call running under ctx:
// it cancels ctx with a *BudgetError when the live heap has grown by more
// than the budget. The returned stop ends the watch; after a budget stop
// it also returns the freed memory to the OS.
func (v *VM) watchMemory(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	limit := v.memLimit
	if limit <= 0 {
		return func() {}
	}
	base := heapBytes()
	done := make(chan struct{})
	var (
		wg     sync.WaitGroup
		killed bool
	)
	wg.Go(func() {
		t := time.NewTicker(memCheckEvery)
		defer t.Stop()
		// Force a GC only when the heap (garbage included) is over the
		// budget, and then not again until another budget's worth has
		// been allocated: a call making garbage fast costs at most one
		// extra GC per lua_memory_limit bytes it allocates.
		trigger := base + limit
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if heapBytes() <= trigger {
				continue
			}
			runtime.GC()
			live := heapBytes()
			if grown := live - base; grown > limit {
				killed = true
				cancel(&BudgetError{Grown: grown, Limit: limit})
				return
			}
			trigger = max(base, live) + limit
		}
	})
	return func() {
		close(done)
		wg.Wait()
		// The Lua stack is unwound by now: what the call built is garbage
		// unless it stored it in a global. A call that ended otherwise (its
		// deadline, on a machine so loaded that the watch above did not
		// get to run, or success) may have grown the heap a lot too: hand
		// that back as well, or the daemon keeps the RSS.
		if killed || heapBytes()-base > min(limit, returnAfterGrowth) {
			debug.FreeOSMemory()
		}
	}
}
