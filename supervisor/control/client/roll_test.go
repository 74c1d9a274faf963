package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// rollable returns a spec of group web that runs until stopped, exits 3
// at once while broken exists, and is ready while gate exists.
func rollable(name, broken, gate string) supervisor.Spec {
	s := supervisor.NewSpec(name, "/bin/sh", "-c", `test -f "$0" && exit 3; exec sleep 100`, broken)
	s.Group, s.StartSecs = "web", 0
	s.Ready = &supervisor.ReadySpec{Exec: "test -f " + gate, Period: 20 * time.Millisecond, Timeout: 30 * time.Second}
	return s
}

// TestRoll: /v1/roll streams each instance as it is done, then the
// outcome; a bad name or bad limits are refused before the stream; a roll
// that stops is an APIError naming the instance; a client that goes away
// interrupts the roll and the old runs keep serving.
func TestRoll(t *testing.T) {
	dir := t.TempDir()
	broken, gate := filepath.Join(dir, "broken"), filepath.Join(dir, "gate")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, eng := serve(t, nil, rollable("a", broken, gate), rollable("b", broken, gate))
	pids := func() [2]int {
		var out [2]int
		for i, n := range []string{"web:a", "web:b"} {
			info, _ := eng.Info(n)
			if info.State == supervisor.Running {
				out[i] = info.Pid
			}
		}
		return out
	}
	testkit.WaitFor(t, "both running", 0, func() bool { p := pids(); return p[0] != 0 && p[1] != 0 })
	ctx := context.Background()

	before := pids()
	var steps []control.RollStep
	if err := c.Roll(ctx, control.RollRequest{Name: "web:*"}, func(s control.RollStep) { steps = append(steps, s) }); err != nil {
		t.Fatalf("Roll: %v", err)
	}
	after := pids()
	if len(steps) != 2 || steps[1].Done != 2 || steps[1].Total != 2 || steps[0].OldPid != before[0] ||
		steps[0].NewPid != after[0] || !steps[0].Ready || !strings.Contains(steps[0].Text, "ready, old pid") {
		t.Errorf("steps %+v; pids before %v after %v", steps, before, after)
	}

	zero := 0
	for _, r := range []struct {
		req   control.RollRequest
		fault supervisor.Fault
	}{
		{control.RollRequest{Name: "nosuch"}, supervisor.FaultBadName},
		{control.RollRequest{Name: "web:*", MaxSurge: &zero}, supervisor.FaultBadArguments},
	} {
		var ae *control.APIError
		if err := c.Roll(ctx, r.req, nil); !errors.As(err, &ae) || ae.Fault() != r.fault {
			t.Errorf("Roll %+v = %v, want %v", r.req, err, r.fault)
		}
	}

	// Broken, and never ready: the replacement exits before any check.
	os.Remove(gate)
	if err := os.WriteFile(broken, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before = pids()
	err := c.Roll(ctx, control.RollRequest{Name: "web:*"}, nil)
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Fault() != supervisor.FaultFailed ||
		!strings.Contains(ae.Message, "roll stopped at web:a: the replacement exited too quickly (exit status 3)") {
		t.Errorf("Roll of a broken version = %v", err)
	}
	if pids() != before {
		t.Errorf("pids before %v, after the failed roll %v", before, pids())
	}

	// Interrupted: the replacement never gets ready; the client leaves.
	os.Remove(broken)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := c.Roll(short, control.RollRequest{Name: "web:a"}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Roll with the client gone = %v", err)
	}
	testkit.WaitFor(t, "the roll to end", 0, func() bool { i, _ := eng.Info("web:a"); return !i.Rolling })
	if pids() != before {
		t.Errorf("pids before %v, after the interrupted roll %v", before, pids())
	}
}
