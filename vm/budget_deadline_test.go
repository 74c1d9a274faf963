package vm

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

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
	waitFor(t, "two on_exit calls", 30*time.Second, func() bool {
		out, err := v.Eval(context.Background(), "calls")
		return err == nil && out == "2\n"
	})
	// Under -race the deadline may find the VM inside string.rep: the
	// engine then stops waiting before the VM notices.
	if out := logs.String(); !strings.Contains(out, "timed out after 1s at") && !strings.Contains(out, "no answer within 1s") {
		t.Fatalf("the first call was not stopped:\n%s", out)
	}
	backNear(t, baseRSS, baseRetained)
}
