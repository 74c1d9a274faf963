package supervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// An exit with one of permanent_exitcodes goes FATAL at once, whether it
// came within startsecs or after RUNNING, with the reason as description;
// another code is retried as usual.
func TestPermanentExitCodes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		code      int
		startSecs time.Duration
		want      []State
	}{
		{"within startsecs", 125, time.Second, []State{Starting, Backoff, Fatal}},
		{"after running", 125, 0, []State{Starting, Running, Exited, Fatal}},
		{"another code", 3, time.Second, []State{Starting, Backoff}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHarness(t)
			s := h.spec("perm", sh(fmt.Sprintf("exit %d", tt.code))...)
			s.StartSecs, s.PermanentExitCodes = tt.startSecs, []int{125, 126}
			h.update(s)
			h.waitEngine("the first exit handled", 0, func() bool { return len(h.states("perm")) >= len(tt.want) })
			h.sync()
			if got := h.states("perm"); !slices.Equal(got, tt.want) {
				t.Fatalf("states %v, want %v", got, tt.want)
			}
			i, _ := h.e.Info("perm")
			if tt.code == 125 {
				if want := "exit status 125 is permanent (permanent_exitcodes)"; i.Description() != want || i.LimitReason != want {
					t.Errorf("description %q, limit reason %q; want %q", i.Description(), i.LimitReason, want)
				}
				if got := h.clock.Pending(); len(got) != 0 {
					t.Errorf("FATAL left timers armed: %v", got)
				}
			} else if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{time.Second}) {
				t.Errorf("a code that is not permanent is not retried: timers %v", got)
			}
		})
	}
}

// start_limit counts failed starts within its interval: with burst 2,
// failures at 0 s, 1 s and 3 s (backoff 1 s, then 2 s) trip an interval of
// 3.5 s at the third, and not an interval of 3 s, where the first has left
// the window by then. The FATAL comes at the third failure, not a retry
// later, and a start asked for clears the count.
func TestStartLimit(t *testing.T) {
	for _, tt := range []struct {
		interval time.Duration
		trips    bool
	}{{3500 * time.Millisecond, true}, {3 * time.Second, false}} {
		t.Run(tt.interval.String(), func(t *testing.T) {
			h := newFakeHarness(t)
			s := h.spec("flaky", sh("exit 1")...)
			s.StartSecs, s.StartRetries = time.Second, 10
			s.StartLimit = StartLimit{Burst: 2, Interval: tt.interval}
			h.update(s)
			start := h.clock.Now()
			for n := 1; n <= 4; n++ {
				h.waitEngine(fmt.Sprintf("failure %d", n), 0, func() bool {
					evs := h.stateEvents("flaky")
					if len(evs) == 0 {
						return false
					}
					last := evs[len(evs)-1]
					return last.To == Fatal || last.To == Backoff && last.Tries == n
				})
				h.sync()
				if h.lastState("flaky") == Fatal {
					break
				}
				h.clock.Advance(time.Duration(n) * time.Second)
			}
			i, _ := h.e.Info("flaky")
			if !tt.trips {
				if i.State == Fatal {
					t.Fatalf("FATAL with failures spread over more than the interval: %s", i.Description())
				}
				return
			}
			if i.State != Fatal || !strings.HasPrefix(i.LimitReason, "start_limit: 3 failures within 3.5s (burst 2)") {
				t.Fatalf("state %s, reason %q; want FATAL by start_limit", i.State, i.LimitReason)
			}
			if at := h.clock.Now().Sub(start); at != 3*time.Second {
				t.Errorf("FATAL at %s, want at the third failure, 3s", at)
			}
			if i.StartFailures != 3 {
				t.Errorf("start failures %d, want 3", i.StartFailures)
			}
			if err := h.e.StartProcess(context.Background(), "flaky", false); err != nil {
				t.Fatal(err)
			}
			if i, _ := h.e.Info("flaky"); i.LimitReason != "" || i.StartFailures != 0 {
				t.Errorf("a start asked for kept the limit: %q, %d failures", i.LimitReason, i.StartFailures)
			}
		})
	}
}

// Unexpected exits after RUNNING count too: a program that crashes at
// once and is restarted without delay goes FATAL at burst+1 crashes, and
// an expected exit (exit 0 with autorestart true) is no failure.
func TestStartLimitCountsCrashes(t *testing.T) {
	for _, tt := range []struct {
		code  int
		fatal bool
	}{{1, true}, {0, false}} {
		t.Run(fmt.Sprint("exit ", tt.code), func(t *testing.T) {
			h := newFakeHarness(t)
			s := h.spec("crash", sh(fmt.Sprintf("exit %d", tt.code))...)
			s.StartSecs, s.AutoRestart = 0, RestartAlways
			s.StartLimit = StartLimit{Burst: 2, Interval: time.Minute}
			h.update(s)
			h.waitEngine("three runs", 0, func() bool {
				return h.lastState("crash") == Fatal || len(slices.DeleteFunc(h.states("crash"), func(st State) bool { return st != Exited })) >= 4
			})
			h.e.StopProcess(context.Background(), "crash", true)
			exits := len(slices.DeleteFunc(h.states("crash"), func(st State) bool { return st != Exited }))
			if fatal := slices.Contains(h.states("crash"), Fatal); fatal != tt.fatal || tt.fatal && exits != 3 {
				t.Errorf("states %v: FATAL %v after %d exits, want FATAL %v after 3", h.states("crash"), fatal, exits, tt.fatal)
			}
		})
	}
}
