package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// serveFake runs real children under an engine on a fake clock (so the
// test decides when a history step has passed) behind a control server.
func serveFake(t *testing.T, opts control.Options, specs ...supervisor.Spec) (*Client, *enginekit.Engine) {
	t.Helper()
	eng := enginekit.New(t, supervisor.Config{Clock: testkit.NewFakeClock()})
	opts.Engine = eng.Engine
	sock := testkit.ServeUnix(t, control.New(opts))
	c, err := New("unix://"+sock, "", "")
	if err != nil {
		t.Fatal(err)
	}
	eng.Load(specs...)
	return c, eng
}

// faultOf is the supervisor fault of an API error, 0 for anything else.
func faultOf(err error) supervisor.Fault {
	var ae *control.APIError
	if errors.As(err, &ae) {
		return ae.Fault()
	}
	return 0
}

func running(group, name string, argv ...string) supervisor.Spec {
	s := supervisor.NewSpec(name, argv...)
	s.Group, s.StartSecs = group, 0
	return s
}

// The history of a burning child and an idle one, recorded by Usage
// calls: no points before anything sampled, one per step after, the CPU
// of each told apart, since and names selecting.
func TestUsageHistory(t *testing.T) {
	ctx := context.Background()
	c, eng := serveFake(t, control.Options{},
		running("burn", "burn", "sh", "-c", "while :; do :; done"),
		running("idle", "idle", "sleep", "1000"),
		running("grp", "w1", "sleep", "1000"))
	h, err := c.UsageHistory(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Step != 5 || len(h.Processes) != 3 {
		t.Fatalf("history %+v, want step 5 and 3 processes", h)
	}
	for _, p := range h.Processes {
		if len(p.Points) != 0 {
			t.Fatalf("%s has points before anything sampled: %+v", p.Name, p.Points)
		}
	}
	// Sample until burn has really used CPU (the fake clock stands still,
	// so these all fall in one step), then twice more, a step apart.
	testkit.WaitFor(t, "burn to use 0.2 s of CPU", testkit.DefaultWait, func() bool {
		us, err := c.Usage(ctx, "burn")
		return err == nil && us[0].CPUSeconds >= 0.2
	})
	for range 2 {
		eng.Clock.Advance(5 * time.Second)
		if _, err := c.Usage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h, err = c.UsageHistory(ctx, time.Time{}, "burn", "idle")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Processes) != 2 || h.Processes[0].Name != "burn" || h.Processes[1].Name != "idle" {
		t.Fatalf("selected %+v, want burn and idle", h.Processes)
	}
	burn, idle := h.Processes[0].Points, h.Processes[1].Points
	if len(burn) != 3 || len(idle) != 3 {
		t.Fatalf("burn has %d points, idle %d, want 3 each: %+v %+v", len(burn), len(idle), burn, idle)
	}
	// CPU is counted in 10 ms ticks: the fake steps are milliseconds of
	// real time apart, so one of them may see no tick. Some point must.
	busy := slices.ContainsFunc(burn, func(p control.UsagePoint) bool { return p.CPUPercent > 0 })
	if !busy || burn[2].RSS <= 0 {
		t.Errorf("burn's points %+v: want CPU in one and memory in the last", burn)
	}
	if idle[2].CPUPercent != 0 || idle[2].RSS <= 0 {
		t.Errorf("idle's last point %+v: want no CPU, some memory", idle[2])
	}
	if burn[1].Time-burn[0].Time != 5 || burn[2].Time-burn[1].Time != 5 {
		t.Errorf("points at %v %v %v, want 5 s apart", burn[0].Time, burn[1].Time, burn[2].Time)
	}
	newer, err := c.UsageHistory(ctx, time.UnixMilli(int64(burn[1].Time*1000)), "grp:*", "burn")
	if err != nil {
		t.Fatal(err)
	}
	// In the daemon's order: by group, then name.
	if len(newer.Processes) != 2 || newer.Processes[1].Name != "w1" || len(newer.Processes[0].Points) != 1 ||
		newer.Processes[0].Points[0] != burn[2] {
		t.Errorf("since the second point, grp:* and burn: %+v", newer.Processes)
	}
	if _, err := c.UsageHistory(ctx, time.Time{}, "nosuch"); faultOf(err) != supervisor.FaultBadName {
		t.Errorf("unknown name: %v, want BAD_NAME", err)
	}
}

// The resolved config of a process, every option in ProgramOptions order
// as a config writes it; the environment's values stay hidden on a door
// without eval.
func TestConfig(t *testing.T) {
	ctx := context.Background()
	s := running("web", "web", "sleep", "1000")
	s.CommandLine = "sleep 1000"
	s.MaxMemory, s.MaxMemoryFor = 500<<20, 30*time.Second
	s.StartLimit = supervisor.StartLimit{Burst: 5, Interval: time.Minute}
	s.Environment = map[string]string{"TOKEN": "s3cret", "PORT": "8000"}
	for _, redact := range []bool{false, true} {
		c, _ := serveFake(t, control.Options{NoEval: redact}, s)
		cfg, err := c.Config(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		var names []string
		for _, o := range cfg.Options {
			got[o.Name] = o.Value
			names = append(names, o.Name)
		}
		var want []string
		for _, o := range supervisor.ProgramOptions {
			if o.Accepts("program") {
				want = append(want, o.Name)
			}
		}
		if !slices.Equal(names, want) {
			t.Errorf("options %v, want %v", names, want)
		}
		env := "PORT=8000 TOKEN=s3cret"
		if redact {
			env = "PORT=… TOKEN=…"
		}
		for k, v := range map[string]string{"command": "sleep 1000", "startsecs": "0", "max_memory": "500.0MiB",
			"max_memory_for": "30", "start_limit": s.StartLimit.String(), "stopsignal": "TERM", "environment": env} {
			if got[k] != v {
				t.Errorf("redact=%v: %s = %q, want %q", redact, k, got[k], v)
			}
		}
		if _, err := c.Config(ctx, "nosuch"); faultOf(err) != supervisor.FaultBadName {
			t.Errorf("unknown name: %v, want BAD_NAME", err)
		}
	}
}

// ProcessEvents keeps one process's state changes.
func TestProcessEvents(t *testing.T) {
	ctx := context.Background()
	c, _ := serveFake(t, control.Options{}, running("a", "a", "sleep", "1000"), running("grp", "b", "sleep", "1000"))
	for name, want := range map[string]string{"a": "STOPPED>STARTING STARTING>RUNNING", "grp:b": "STOPPED>STARTING STARTING>RUNNING", "nosuch": ""} {
		evs, err := c.ProcessEvents(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			if supervisor.Namespec(e.Group, e.Name) != name {
				t.Errorf("%s: got an event of %s", name, supervisor.Namespec(e.Group, e.Name))
			}
			got = append(got, e.From+">"+e.To)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
