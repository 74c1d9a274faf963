package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// A start of many programs lets other requests in while it runs: a status
// asked for once the first child is up is answered before the last one is
// spawned (it used to wait for all of them: 5 s at 2000 programs).
func TestBigStartLetsStatusIn(t *testing.T) {
	for _, how := range []string{"update", "start all"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			const n = 300
			specs := make([]Spec, n)
			for i := range specs {
				specs[i] = h.spec(fmt.Sprintf("p%03d", i), "sleep", "1000")
				specs[i].StartSecs = 0
				specs[i].Stdout.Path, specs[i].Stderr.Path = LogNone, LogNone
				specs[i].AutoStart = how == "update"
			}
			if how == "start all" {
				h.update(specs...)
			}
			var done atomic.Bool
			go func() {
				defer done.Store(true)
				if how == "update" {
					h.e.Update(context.Background(), specs)
				} else {
					h.e.Start(context.Background(), ParseTarget("all"), false)
				}
			}()
			h.waitFor("the first child", 30*time.Second, func() bool {
				i, err := h.e.Info("p000")
				return err == nil && i.Pid != 0
			})
			st := h.e.Status()
			running := 0
			for _, i := range st {
				if i.Pid != 0 {
					running++
				}
			}
			if running == n {
				t.Errorf("status waited for all %d starts", n)
			}
			h.waitFor("every child", 60*time.Second, func() bool { return done.Load() })
		})
	}
}
