package supervisor

import (
	"testing"
)

// The ring keeps the last HistorySize changes, oldest first.
func TestHistoryRing(t *testing.T) {
	var h history
	for n := range HistorySize + 5 {
		h.add(StateChange{Pid: n})
	}
	l := h.list()
	if len(l) != HistorySize || l[0].Pid != 5 || l[len(l)-1].Pid != HistorySize+4 {
		t.Fatalf("%d entries, first pid %d, last %d", len(l), l[0].Pid, l[len(l)-1].Pid)
	}
}

// The history has each change of a process with its exit and reason: a
// permanent exit code reads as EXITED then FATAL with the limit's reason.
func TestHistoryRecordsReasons(t *testing.T) {
	h := newFakeHarness(t)
	s := h.spec("perm", sh("exit 125")...)
	s.StartSecs, s.PermanentExitCodes = 0, []int{125}
	h.update(s)
	h.waitState("perm", Fatal, 0)
	var got []StateChange
	for _, c := range h.e.History() {
		if c.Process == "perm" {
			got = append(got, c)
		}
	}
	want := []struct {
		to     State
		code   int
		reason string
	}{{Starting, 0, ""}, {Running, 0, ""}, {Exited, 125, "exit status 125"}, {Fatal, 125, "exit status 125 is permanent (permanent_exitcodes)"}}
	if len(got) != len(want) {
		t.Fatalf("history %+v", got)
	}
	for n, w := range want {
		if c := got[n]; c.To != w.to || c.ExitCode != w.code || c.Reason != w.reason || c.Time.IsZero() {
			t.Errorf("entry %d: %+v, want %s %d %q", n, c, w.to, w.code, w.reason)
		}
	}
}
