package vm

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// rss returns this process's resident set size in bytes (VmRSS).
func rss(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// retained returns the memory the Go runtime holds from the OS: all it
// mapped minus what it released.
func retained() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}

// backNear waits until the memory the process holds is back near what it
// was before: VmRSS, and the Go runtime's own count (the only one that
// comes back under -race, see raceEnabled).
func backNear(t *testing.T, baseRSS, baseRetained int64) {
	t.Helper()
	waitFor(t, "memory back near its level before the bomb", 10*time.Second, func() bool {
		return retained() < baseRetained+48<<20 && (raceEnabled || rss(t) < baseRSS+48<<20)
	})
}

// bomb grows a table of 1 MB strings: 400 MB if nothing stops it.
const bomb = `local t = {}
for i = 1, 400 do
  t[i] = string.rep("x", 1e6)
end
return #t`

// TestMemoryBudgetEval: a chunk growing the heap past lua_memory_limit is
// stopped with the budget named and its file:line, the memory goes back
// to the OS, and the VM runs the next chunk.
func TestMemoryBudgetEval(t *testing.T) {
	v, _ := loadSource(t, `daemon { lua_memory_limit = "32MB" } x = 1`, Options{HookTimeout: 30 * time.Second})
	debug.FreeOSMemory()
	baseRSS, baseRetained := rss(t), retained()
	_, err := v.Eval(context.Background(), bomb)
	if err == nil || !strings.HasPrefix(err.Error(), "eval: stopped at eval:3: memory budget exceeded: the heap grew by ") ||
		!strings.HasSuffix(err.Error(), "(lua_memory_limit is 32 MiB)") {
		t.Fatalf("bomb: %v", err)
	}
	backNear(t, baseRSS, baseRetained)
	if got := eval(t, v, "x + 1"); got != "2" {
		t.Errorf("next chunk: %q", got)
	}
	// A chunk making lots of garbage but keeping little is not stopped.
	if got := eval(t, v, `local n = 0
for i = 1, 200 do n = n + #string.rep("y", 1e6) end
return n`); got != "200000000" {
		t.Errorf("garbage-heavy chunk: %q", got)
	}
}

// TestMemoryBudgetHook: the hook bomb in on_exit is stopped (the
// log names the hook and the line it was stopped at), the default rule
// applies, and the next on_exit call runs normally in the same VM.
func TestMemoryBudgetHook(t *testing.T) {
	logs := &testkit.Buffer{}
	debug.FreeOSMemory()
	baseRSS, baseRetained := rss(t), retained()
	v, e := start(t, `daemon { lua_memory_limit = "32MB" }
calls = 0
program "bomb" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = true, hook_timeout = 30,
  on_exit = function(p, e)
    calls = calls + 1
    if calls == 1 then
      local t = {}
      for i = 1, 400 do t[i] = string.rep("x", 1e6) end
    end
    if calls < 3 then return "restart" end
    return "stop"
  end,
}`, logs)
	waitHookCalls(t, v, 3)
	want := "on_exit hook (" + v.path + ":5) of bomb: stopped at " + v.path + ":9: memory budget exceeded: the heap grew by "
	if out := logs.String(); !strings.Contains(out, want) {
		t.Errorf("log lacks %q:\n%s", want, out)
	}
	// The bomb's call fell back to autorestart (a restart), the second
	// answered "restart", the third "stop".
	waitFor(t, "bomb stopped by its third call", 10*time.Second, func() bool {
		return info(t, e, "bomb").State == supervisor.Exited
	})
	if r := info(t, e, "bomb").Restarts; r != 2 {
		t.Errorf("restarts = %d, want 2", r)
	}
	backNear(t, baseRSS, baseRetained)
}

// TestMemoryBudgetLoad: a config that grows the heap at load fails with
// the budget (Options.MemoryLimit, the default when 0) and file:line;
// lua_memory_limit = 0 turns the budget off for calls after the load.
func TestMemoryBudgetLoad(t *testing.T) {
	err := loadError(t, map[string]string{"tend.lua": "x = 1\n" + bomb})
	if !strings.Contains(err, "tend.lua: stopped at tend.lua:4: memory budget exceeded: the heap grew by ") ||
		!strings.HasSuffix(err, "(lua_memory_limit is 64 MiB)") {
		t.Errorf("load: %s", err)
	}
	path := writeConfig(t, map[string]string{"tend.lua": "x = 1\n" + bomb})
	_, _, lerr := Load(context.Background(), path, Options{MemoryLimit: 16 << 20})
	if lerr == nil || !strings.HasSuffix(lerr.Error(), "(lua_memory_limit is 16 MiB)") {
		t.Errorf("load with Options.MemoryLimit: %v", lerr)
	}
	_, cfg := loadSource(t, `daemon { lua_memory_limit = 0 }`, Options{})
	if cfg.Daemon.LuaMemoryLimit != -1 {
		t.Errorf("lua_memory_limit = 0 gave %d, want -1 (off)", cfg.Daemon.LuaMemoryLimit)
	}
}

// A hook stopped by its deadline rather than its budget (on a loaded
// machine the deadline can come first) gives its memory back too: what it
// built is garbage once the call is unwound, nothing in the VM keeps it.
func TestMemoryBackAfterDeadline(t *testing.T) {
	logs := &testkit.Buffer{}
	debug.FreeOSMemory()
	baseRSS, baseRetained := rss(t), retained()
	v, _ := start(t, `daemon { lua_memory_limit = "1GB" }
calls = 0
program "bomb" {
  command = { "sh", "-c", "sleep 0.1; exit 1" }, startsecs = 0, autorestart = true, hook_timeout = 1,
  on_exit = function(p, e)
    calls = calls + 1
    if calls == 1 then
      local t = {}
      for i = 1, 300 do t[i] = string.rep("x", 1e6) end
      while true do end
    end
    return "stop"
  end,
}`, logs)
	waitHookCalls(t, v, 2)
	// Under -race the deadline may find the VM inside string.rep: the
	// engine then stops waiting before the VM notices.
	if out := logs.String(); !strings.Contains(out, "timed out after 1s at") && !strings.Contains(out, "no answer within 1s") {
		t.Fatalf("the first call was not stopped:\n%s", out)
	}
	backNear(t, baseRSS, baseRetained)
}

// waitHookCalls waits until the config's global calls (counted by its
// hooks) is n.
func waitHookCalls(t *testing.T, v *VM, n int) {
	t.Helper()
	want := strconv.Itoa(n) + "\n"
	waitFor(t, fmt.Sprintf("%d on_exit calls", n), 30*time.Second, func() bool {
		out, err := v.Eval(context.Background(), "calls") // fails while a hook holds the VM
		return err == nil && out == want
	})
}
