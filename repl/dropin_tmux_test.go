package repl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
)

// TestSupervisorctlInteractive runs tend installed as supervisorctl with
// no command in a terminal: the REPL starts with [supervisorctl]'s prompt
// and talks to the daemon its serverurl names.
func TestSupervisorctlInteractive(t *testing.T) {
	testkit.RequireTool(t, "tmux")
	d := startDaemon(t)
	ctl := filepath.Join(d.dir, "supervisorctl")
	if err := os.Symlink(tendBin, ctl); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(d.dir, "supervisord.conf")
	ini := fmt.Sprintf("[supervisorctl]\nserverurl=unix://%s\nprompt=mysv\n", d.sock)
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &tmuxPane{t: t, sock: filepath.Join(d.dir, "tmux.sock")}
	command := fmt.Sprintf("env XDG_STATE_HOME=%s sh -c '%s -c %s; echo ctl-exit=$?; sleep 60'", filepath.Join(d.dir, "state"), ctl, conf)
	p.tmux("new-session", "-d", "-s", "repl", "-x", "200", "-y", "50", command)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.sock, "kill-server").Run() })

	p.waitFor("supervisorctl's prompt", "", lastLineIs("mysv>"))
	p.typeLine("status")
	p.waitFor("status output", "mysv> status", func(l []string) bool {
		return len(l) == 2 && strings.HasPrefix(l[0], "sleeper") && strings.Contains(l[0], "RUNNING") && l[1] == "mysv>"
	})
	p.send("C-d")
	p.waitFor("the exit", "", func(l []string) bool { return strings.Contains(strings.Join(l, "\n"), "ctl-exit=0") })
}
