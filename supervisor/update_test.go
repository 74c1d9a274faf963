package supervisor

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func webSpecs(h *harness, n int, cmd string) []Spec {
	var out []Spec
	for i := range n {
		s := h.spec(fmt.Sprintf("web_%02d", i), "sleep", cmd)
		s.Program, s.Group, s.Num, s.NumProcs = "web", "web", i, n
		s.StartSecs = 0
		out = append(out, s)
	}
	return out
}

func TestUpdateDiffsPerProcess(t *testing.T) {
	h := newHarness(t)
	single := h.spec("single", "sleep", "1000")
	single.StartSecs = 0
	gone := h.spec("gone", "sleep", "1000")
	gone.StartSecs = 0
	userStopped := h.spec("paused", "sleep", "1000")
	userStopped.StartSecs = 0
	h.update(append(webSpecs(h, 3, "1000"), single, gone, userStopped)...)
	for _, n := range []string{"web:web_00", "web:web_01", "web:web_02", "single", "gone", "paused"} {
		h.waitState(n, Running, 5*time.Second)
	}
	ctx := context.Background()
	h.e.StopProcess(ctx, "paused", true)
	pids := map[string]int{}
	for _, i := range h.e.Status() {
		pids[i.Namespec()] = i.Pid
	}

	// New config: web scaled to 2, single changed, gone removed, paused
	// changed (but user-stopped), fresh added.
	single2 := single
	single2.Command = []string{"sleep", "2000"}
	paused2 := userStopped
	paused2.Command = []string{"sleep", "2000"}
	fresh := h.spec("fresh", "sleep", "1000")
	fresh.StartSecs = 0
	next := append(webSpecs(h, 2, "1000"), single2, paused2, fresh)
	plan, err := h.e.Plan(next)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Change{}
	for _, c := range plan {
		kinds[c.Group] = c
	}
	if c := kinds["web"]; !c.Scaled() || !slices.Equal(c.Removed, []string{"web_02"}) || c.Kept != 2 {
		t.Errorf("web plan %+v, want scaled with web_02 removed and 2 kept", c)
	}
	if c := kinds["single"]; c.Kind != "changed" || !slices.Equal(c.Fields, []string{"command"}) || c.Kept != 0 {
		t.Errorf("single plan %+v, want changed command", c)
	}
	if kinds["gone"].Kind != "removed" || kinds["fresh"].Kind != "added" {
		t.Errorf("plan %+v", plan)
	}
	if _, ok := kinds["unchanged"]; ok {
		t.Errorf("plan lists an unchanged group")
	}
	if _, err := h.e.Update(ctx, next); err != nil {
		t.Fatal(err)
	}
	h.waitState("fresh", Running, 5*time.Second)
	h.waitState("single", Running, 5*time.Second)
	st := map[string]Info{}
	for _, i := range h.e.Status() {
		st[i.Namespec()] = i
	}
	if _, ok := st["gone"]; ok {
		t.Errorf("removed process still listed")
	}
	if _, ok := st["web:web_02"]; ok {
		t.Errorf("scaled-away instance still listed")
	}
	for _, n := range []string{"web:web_00", "web:web_01"} {
		if st[n].Pid != pids[n] {
			t.Errorf("%s was restarted by a numprocs-only change", n)
		}
	}
	if st["single"].Pid == pids["single"] || st["single"].Pid == 0 {
		t.Errorf("changed process not restarted (pid %d → %d)", pids["single"], st["single"].Pid)
	}
	if st["paused"].State != Stopped {
		t.Errorf("user-stopped process is %s after update, want STOPPED", st["paused"].State)
	}
	if !alive(st["single"].Pid) || alive(pids["gone"]) || alive(pids["web:web_02"]) {
		t.Errorf("process liveness after update wrong")
	}
}

func TestUpdateRejectsDuplicates(t *testing.T) {
	h := newHarness(t)
	a := h.spec("a", "sleep", "1")
	if _, err := h.e.Update(context.Background(), []Spec{a, a}); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if len(h.e.Status()) != 0 {
		t.Fatal("a rejected update changed the process table")
	}
}

func TestGroupOperations(t *testing.T) {
	h := newHarness(t)
	h.update(webSpecs(h, 3, "1000")...)
	for _, n := range []string{"web:web_00", "web:web_01", "web:web_02"} {
		h.waitState(n, Running, 5*time.Second)
	}
	ctx := context.Background()
	names, err := h.e.Targets(ParseTarget("web:*"))
	if err != nil || len(names) != 3 {
		t.Fatalf("Targets web:* = %v, %v", names, err)
	}
	for _, bad := range []string{"web", "web_00", "nogroup:*"} {
		if _, err := h.e.Targets(ParseTarget(bad)); FaultOf(err) != FaultBadName {
			t.Errorf("Targets(%q) = %v, want BAD_NAME", bad, err)
		}
	}
	res, err := h.e.Stop(ctx, GroupTarget("web"), true)
	if err != nil || len(res) != 3 {
		t.Fatalf("StopGroup = %v, %v", res, err)
	}
	for _, r := range res {
		if r.Fault != FaultSuccess || r.Group != "web" {
			t.Errorf("result %+v", r)
		}
	}
	res, err = h.e.Start(ctx, GroupTarget("web"), true)
	if err != nil || len(res) != 3 {
		t.Fatalf("StartGroup = %v, %v", res, err)
	}
	if _, err := h.e.Start(ctx, GroupTarget("nogroup"), true); FaultOf(err) != FaultBadName {
		t.Errorf("StartGroup(nogroup) = %v", err)
	}
	if err := h.e.RemoveGroup("web"); FaultOf(err) != FaultStillRunning {
		t.Errorf("RemoveGroup of a running group = %v, want STILL_RUNNING", err)
	}
	h.e.Stop(ctx, AllTarget, true)
	if err := h.e.RemoveGroup("web"); err != nil {
		t.Errorf("RemoveGroup = %v", err)
	}
	if err := h.e.AddGroup(ctx, webSpecs(h, 1, "1000"), "web"); err != nil {
		t.Errorf("AddGroup = %v", err)
	}
	if err := h.e.AddGroup(ctx, webSpecs(h, 1, "1000"), "web"); FaultOf(err) != FaultAlreadyAdded {
		t.Errorf("AddGroup twice = %v, want ALREADY_ADDED", err)
	}
	h.waitState("web:web_00", Running, 5*time.Second)
}
