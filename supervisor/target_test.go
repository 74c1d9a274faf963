package supervisor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   Target
		string string
		one    bool
	}{
		{"all", AllTarget, "all", false},
		{"web:*", Target{Group: "web"}, "web:*", false},
		{"web:", Target{Group: "web"}, "web:*", false},
		{"web:web_00", Target{Group: "web", Process: "web_00"}, "web:web_00", true},
		{"single", Target{Group: "single", Process: "single"}, "single", true},
		{"", Target{}, ":*", false},
	} {
		got := ParseTarget(tc.in)
		got.name = ""
		if got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.string {
			t.Errorf("ParseTarget(%q).String() = %q, want %q", tc.in, s, tc.string)
		}
		if got.IsProcess() != tc.one {
			t.Errorf("ParseTarget(%q).IsProcess() = %v", tc.in, got.IsProcess())
		}
		if tc.in != "" && tc.in != "web:" && ParseTarget(got.String()).String() != got.String() {
			t.Errorf("%q does not round-trip", tc.in)
		}
	}
}

// TestTargetResultOrder proves that group and all operations report in
// config order however the processes finish: each instance takes a
// different time to stop (the first the longest), and to start.
func TestTargetResultOrder(t *testing.T) {
	h := newHarness(t)
	var specs []Spec
	for i := range 3 {
		// web_00 lingers longest after TERM, web_02 not at all.
		linger := fmt.Sprintf("0.%d", 4-2*i)
		s := h.spec(fmt.Sprintf("web_%02d", i), sh(`trap "sleep `+linger+`; exit 0" TERM; while :; do sleep 0.02; done`)...)
		s.Program, s.Group, s.Num, s.NumProcs = "web", "web", i, 3
		s.StartSecs = 0
		specs = append(specs, s)
	}
	other := h.spec("other", "sleep", "1000")
	other.StartSecs, other.Priority, other.GroupPriority = 0, 1, 1
	h.update(append(specs, other)...)
	for _, n := range []string{"web:web_00", "web:web_01", "web:web_02", "other"} {
		h.waitState(n, Running, 5*time.Second)
	}
	names := func(rs []Result) string {
		var out []string
		for _, r := range rs {
			out = append(out, Namespec(r.Group, r.Name)+"="+r.Fault.String())
		}
		return strings.Join(out, ",")
	}
	ctx := context.Background()
	want := "web:web_00=SUCCESS,web:web_01=SUCCESS,web:web_02=SUCCESS"
	rs, err := h.e.Stop(ctx, ParseTarget("web:*"), true)
	if err != nil || names(rs) != want {
		t.Errorf("stop web:* = %s, %v; want %s", names(rs), err, want)
	}
	rs, err = h.e.Start(ctx, ParseTarget("web:*"), true)
	if err != nil || names(rs) != want {
		t.Errorf("start web:* = %s, %v; want %s", names(rs), err, want)
	}
	rs, err = h.e.Stop(ctx, AllTarget, true)
	if want := "other=SUCCESS," + want; err != nil || names(rs) != want {
		t.Errorf("stop all = %s, %v; want %s", names(rs), err, want)
	}
	// A single process reports its own fault; a group skips what is
	// already in the wanted state.
	rs, err = h.e.Stop(ctx, ParseTarget("other"), true)
	if err != nil || names(rs) != "other=NOT_RUNNING" {
		t.Errorf("stop a stopped process = %s, %v", names(rs), err)
	}
	if rs, err := h.e.Stop(ctx, ParseTarget("web:*"), true); err != nil || len(rs) != 0 {
		t.Errorf("stop a stopped group = %s, %v; want no results", names(rs), err)
	}
	for _, bad := range []string{"nogroup:*", "web:nope", "web"} {
		_, err := h.e.Start(ctx, ParseTarget(bad), true)
		if FaultOf(err) != FaultBadName || err.Error() != "BAD_NAME: "+bad {
			t.Errorf("start %s = %v, want BAD_NAME: %s", bad, err, bad)
		}
	}
	stopped, started, err := h.e.Restart(ctx, ParseTarget("web:web_01"), true)
	if err != nil || names(stopped) != "web:web_01=NOT_RUNNING" || names(started) != "web:web_01=SUCCESS" {
		t.Errorf("restart a stopped process = %s / %s, %v", names(stopped), names(started), err)
	}
}
