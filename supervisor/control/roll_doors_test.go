package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// TestRollShownByEveryDoor: while a roll waits for a replacement, XML-RPC
// (supervisorctl) sees the process RUNNING with its old pid and the note
// "rolling (0/1)" in its description, and so does the web page, whose
// live uptime keeps the note.
func TestRollShownByEveryDoor(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := xrtSpec("web", "web", "sleep", "1000")
	s.Ready = &supervisor.ReadySpec{Exec: "test -f " + gate, Period: 20 * time.Millisecond, Timeout: 60 * time.Second}
	env := xrtStart(t, []supervisor.Spec{s}, []supervisor.Spec{s}, "user", "s3cret")
	old := env.eng.WaitState("web", supervisor.Running).Pid
	os.Remove(gate) // the replacement will wait
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.eng.Roll(ctx, supervisor.ParseTarget("web"), supervisor.RollOptions{MaxSurge: 1}) }()
	defer func() {
		cancel()
		if err := <-done; err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("Roll after cancel = %v", err)
		}
	}()
	xrtWaitFor(t, "the roll", func() bool { i, _ := env.eng.Info("web"); return i.Rolling })

	info := env.mustCall(t, "supervisor.getProcessInfo", "web")
	if st, pid, desc := xrtField(t, info, "statename"), xrtField(t, info, "pid"), xrtField(t, info, "description"); st != "RUNNING" ||
		fmt.Sprint(pid) != fmt.Sprint(old) || !strings.HasSuffix(fmt.Sprint(desc), ", rolling (0/1)") {
		t.Errorf("getProcessInfo during the roll: %v pid %v (old %d) %q", st, pid, old, desc)
	}

	t.Run("web page", func(t *testing.T) {
		w := wdStart(t, false)
		w.open(fmt.Sprintf("http://%s:%s@%s/", env.user, env.pass, env.tcp))
		w.waitJS("the roll note", `return document.getElementById("live").textContent === "live" &&
			/^pid \d+, uptime \d+:\d\d:\d\d, rolling \(0\/1\)$/.test(document.querySelector('tr[data-name="web"] td.desc').textContent)`)
	})
}
