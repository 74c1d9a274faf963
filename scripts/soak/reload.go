package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// goodBody is the config the reload scenarios start from (lines 2-3 of
// tend.lua; what a bad config adds starts on line 4).
const goodBody = `program "a" { command = "sleep 100000", startsecs = 0, numprocs = 2, process_name = "%(program_name)s_%(process_num)d" }
program "b" { command = "sleep 100000", startsecs = 0 }`

// badConfig is one kind of broken config.
type badConfig struct {
	kind   string
	add    string            // appended to goodBody (from line 4)
	files  map[string]string // more files beside tend.lua
	where  string            // regexp the error must match (the file:line)
	defect int
}

var badConfigs = []badConfig{
	{kind: "syntax error", add: "program \"c\" { command = = }\nprogram \"d\" { command = \"sleep 1\" }", where: `tend\.lua:4\b`},
	{kind: "syntax error at end of file", add: "program \"c\" { command = \"sleep 1\",\n", where: `tend\.lua:\d+`, defect: 5},
	{kind: "unknown option", add: `program "c" { command = "sleep 1", commnd = "x" }`, where: `tend\.lua:4\b.*commnd`},
	{kind: "bad value", add: `program "c" { command = "sleep 1", startsecs = "soon" }`, where: `tend\.lua:4\b.*startsecs`},
	{kind: "runtime error", add: "local t = nil\nprint(t.x)", where: `tend\.lua:5\b`},
	{kind: "duplicate program", add: `program "b" { command = "sleep 1" }`, where: `tend\.lua:4\b`},
	{kind: "missing include", add: `include "missing/nothere.lua"`, where: `tend\.lua:4\b|nothere\.lua`},
	{kind: "error in an included file", add: `include "conf.d/*.lua"`,
		files: map[string]string{"conf.d/bad.lua": "program \"e\" { command = \"sleep 1\" }\nprogram \"f\" { command = }\n"}, where: `bad\.lua:2\b`},
}

// badReloadScenario loads each broken config through tend reread, tend
// update and SIGHUP: every process keeps its pid, and every error names
// the file and line.
func badReloadScenario(ctx context.Context, r *run) {
	d, start, ok := r.startRunning(ctx, "reload", daemonOpts{body: goodBody})
	if !ok {
		return
	}
	for _, bc := range badConfigs {
		if ctx.Err() != nil {
			return
		}
		for name, text := range bc.files {
			p := filepath.Join(d.dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(text), 0o644)
		}
		d.writeConfig(goodBody + "\n" + bc.add)
		where := regexp.MustCompile(bc.where)
		for _, cmd := range []string{"reread", "update"} {
			out, rc := d.ctl(ctx, r.cfg.Bound, cmd)
			first := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
			same := samePids(ctx, d, start)
			r.figD(bc.defect, cmd+": "+bc.kind, fmt.Sprintf("exit %d, %s; %s", rc, same, first),
				rc != 0 && rc != -1 && same == "pids unchanged" && where.MatchString(out))
		}
		off := fileSize(filepath.Join(d.dir, "tend.log"))
		d.cmd.Process.Signal(syscall.SIGHUP)
		var line string
		pollInt(ctx, r.cfg.Bound, func() int {
			line = firstMatch(mainLogSlice(filepath.Join(d.dir, "tend.log"), off), "reload failed")
			return 0
		}, func(int) bool { return line != "absent" })
		same := samePids(ctx, d, start)
		r.figD(bc.defect, "SIGHUP: "+bc.kind, fmt.Sprintf("%s; %s", same, line), same == "pids unchanged" && where.MatchString(line))
		for name := range bc.files {
			os.Remove(filepath.Join(d.dir, name))
		}
	}
	d.writeConfig(goodBody)
	out, rc := d.ctl(ctx, r.cfg.Bound, "update")
	same := samePids(ctx, d, start)
	r.fig("good config again: update", fmt.Sprintf("exit %d, %s; %s", rc, same, strings.TrimSpace(out)), rc == 0 && same == "pids unchanged")
}

// stablePids waits until every process runs and returns their pids.
// startRunning starts a daemon and waits until all its programs run with
// stable pids, which it returns; a failure is recorded as a figure.
func (r *run) startRunning(ctx context.Context, name string, opts daemonOpts) (*Daemon, map[string]int, bool) {
	d, err := r.startDaemon(ctx, name, opts)
	if err != nil {
		r.errFig("start daemon", err)
		return nil, nil, false
	}
	pids, ok := stablePids(ctx, r, d)
	return d, pids, ok
}

func stablePids(ctx context.Context, r *run, d *Daemon) (map[string]int, bool) {
	if _, err := d.waitStates(ctx, 30*time.Second, running); err != nil {
		r.errFig("all RUNNING", err)
		return nil, false
	}
	pids, err := d.pids(ctx)
	if err != nil {
		r.errFig("status", err)
		return nil, false
	}
	return pids, true
}

// samePids says whether the daemon's processes still have the pids of
// before (and are alive).
func samePids(ctx context.Context, d *Daemon, before map[string]int) string {
	now, err := d.pids(ctx)
	if err != nil {
		return "status failed: " + err.Error()
	}
	if !maps.Equal(now, before) {
		return fmt.Sprintf("pids changed: %v -> %v", before, now)
	}
	for name, pid := range now {
		if !alive(pid) {
			return fmt.Sprintf("%s (%d) is dead", name, pid)
		}
	}
	return "pids unchanged"
}

// reloadLoopScenario loads a config that never finishes (an infinite loop
// at line 4): reread must give up within a bound and name the line; the
// processes keep their pids; SIGTERM during such a reload ends the daemon
// at once.
func reloadLoopScenario(ctx context.Context, r *run) {
	// A daemon that has a load_timeout option gets a short one, so that
	// the run does not wait out its default.
	bound, extra := 15*time.Second, ""
	if r.acceptsDaemonOption(ctx, "load_timeout = 2") {
		bound, extra = 7*time.Second, "load_timeout = 2"
	}
	d, start, ok := r.startRunning(ctx, "reload-loop", daemonOpts{body: goodBody, extra: extra})
	if !ok {
		return
	}
	d.writeConfig(goodBody + "\nwhile true do end\n")
	var out string
	var rc int
	dt := timed(func() { out, rc = d.ctl(ctx, 40*time.Second, "reread") })
	r.figD(5, "reread of a looping config: time", fmt.Sprintf("%s (bound %s; %s)", dt.Round(time.Millisecond), bound, orDefault(extra, "default load deadline")),
		rc != -1 && dt <= bound)
	r.figD(5, "reread of a looping config: error", strings.TrimSpace(out), regexp.MustCompile(`tend\.lua:4\b`).MatchString(out))
	same := samePids(ctx, d, start)
	r.fig("processes after the looping reread", same, same == "pids unchanged")
	// SIGTERM while a SIGHUP reload is stuck in the loop.
	d.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond)
	took, clean := d.Stop(5 * time.Second)
	r.figD(5, "SIGTERM during a looping reload: daemon exits", took.Round(time.Millisecond).String(), clean && took <= 3*time.Second)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// acceptsDaemonOption reports whether the tend under test accepts a
// daemon{} setting (tend check of a config that has it), so that the
// harness can use options newer than some binaries it may test.
func (h *Harness) acceptsDaemonOption(ctx context.Context, setting string) bool {
	dir, err := h.dir("probe")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "tend.lua")
	text := configText(dir, daemonOpts{extra: setting}, `program "x" { command = "true" }`)
	if os.WriteFile(cfg, []byte(text), 0o644) != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return exec.CommandContext(cctx, h.bin, "check", "-c", cfg).Run() == nil
}
