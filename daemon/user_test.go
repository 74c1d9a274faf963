package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The start-up CRIT about running as root gives advice that works: with
// user = "root" in daemon{} the config loads and the CRIT is gone.
func TestRootCritAdviceWorks(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the CRIT is only written when tend runs as root")
	}
	td := startDaemon(t, func(td *testDaemon) string { return td.header("") })
	const advice = `you can set user = "root" in daemon {} to avoid this message.`
	if log := td.logText(); !strings.Contains(log, "CRIT tend is running as root.") || !strings.Contains(log, advice) {
		t.Fatalf("no CRIT with working advice in:\n%s", log)
	}
	td = startDaemon(t, func(td *testDaemon) string { return td.header(`user = "root"`) })
	if log := td.logText(); strings.Contains(log, "running as root") {
		t.Errorf("user = \"root\" still gives the CRIT:\n%s", log)
	}
}

// A daemon that is not root cannot become another user: Start fails
// saying so, as supervisord refuses, and leaves no pidfile.
func TestUserNeedsRoot(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("runs as root: dropping to another user would succeed (the e2e test TestDaemonUser covers that)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tend.lua")
	text := `daemon { logfile = "` + dir + `/tend.log", pidfile = "` + dir + `/tend.pid", socket = { path = "` + dir + `/tend.sock" }, user = "nobody" }`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Open(context.Background(), Options{Path: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "can't drop privilege as nonroot user") {
		t.Fatalf("Start = %v, want the nonroot refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tend.pid")); err == nil {
		t.Errorf("the pidfile was left behind")
	}
}
