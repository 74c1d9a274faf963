package daemon

import (
	"testing"

	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// exit_when_done does not end the daemon while a process waits for its
// requirements: it is stopped, but it will start.
func TestExitWhenDoneWaitsForWaiting(t *testing.T) {
	done := supervisor.NewSpec("done", "true")
	done.StartSecs, done.AutoRestart = 0, supervisor.RestartNever
	web := supervisor.NewSpec("web", "sleep", "1000")
	web.Requires = supervisor.Requirements{{Name: "db"}} // not configured yet: web waits
	eng := enginekit.New(t, supervisor.Config{})
	if _, err := eng.Update(t.Context(), []supervisor.Spec{done, web}); err != nil {
		t.Fatal(err)
	}
	eng.WaitState("done", supervisor.Exited)
	if i, _ := eng.Info("web"); i.State != supervisor.Stopped || i.Waiting != "db (not configured)" {
		t.Fatalf("web: %s, waiting %q", i.State, i.Waiting)
	}
	w := &exitWatch{pending: map[string]bool{}, running: true}
	ev := supervisor.Event{Type: supervisor.EventProcessDone, Process: "done", Group: "done", To: supervisor.Exited, Expected: true}
	if x := w.step(ev, eng.Engine, true); x != nil {
		t.Errorf("exit_when_done ended the daemon while web waits: %s", x.Cause)
	}
}
