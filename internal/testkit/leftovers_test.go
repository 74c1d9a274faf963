package testkit

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestMarkedProcsFindsOrphans checks the check Run makes: a process
// carrying the run's mark is found, one without it is not.
func TestMarkedProcsFindsOrphans(t *testing.T) {
	marked := exec.Command("sleep", "30")
	marked.Env = append(os.Environ(), RunEnv+"=leftover-test")
	other := exec.Command("sleep", "30")
	for _, c := range []*exec.Cmd{marked, other} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	got := markedProcs("leftover-test")
	if !slices.Contains(got, marked.Process.Pid) || slices.Contains(got, other.Process.Pid) {
		t.Errorf("markedProcs = %v, want %d and not %d", got, marked.Process.Pid, other.Process.Pid)
	}
	marked.Process.Kill()
	marked.Wait()
	if got := markedProcs("leftover-test"); len(got) != 0 {
		t.Errorf("after the kill markedProcs = %v", got)
	}
}
