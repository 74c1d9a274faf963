package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hookBody is a config with a program whose on_exit hook is hook (a Lua
// function expression on line 3 of the body, after the daemon line), and a
// victim program without hooks.
func hookBody(prelude, hook, bombOpts string) string {
	return prelude + `
program "bomb" { command = { "sh", "-c", "sleep 0.3; exit 1" }, startsecs = 0, autorestart = true, startretries = 1000,` + bombOpts + `
  on_exit = ` + hook + ` }
program "victim" { command = "sleep 100000", startsecs = 0, autorestart = true }
`
}

// hookErrorScenario: an on_exit hook that errors is logged with its
// file:line and the supervisord rule restarts the program.
func hookErrorScenario(ctx context.Context, r *run) {
	d := hookDaemon(ctx, r, "hook-error", "", `function(p, e) error("soak hook boom") end`, "")
	if d == nil {
		return
	}
	time.Sleep(r.cfg.HookRun)
	line := waitLogLine(ctx, d, "soak hook boom", r.cfg.Bound)
	r.fig("hook error logged with file:line", line, regexp.MustCompile(`tend\.lua:4\b`).MatchString(line))
	hookChecks(ctx, r, d, "")
}

// hookLoopScenario: on_exit hooks that never return.
func hookLoopScenario(ctx context.Context, r *run) {
	d := hookDaemon(ctx, r, "hook-loop", "", `function(p, e) while true do end end`, "")
	if d == nil {
		return
	}
	time.Sleep(r.cfg.HookRun)
	line := waitLogLineRE(ctx, d, `tend\.lua:[34]\b`, r.cfg.Bound)
	r.fig("hook timeout logged with file:line", line, line != "absent")
	hookChecks(ctx, r, d, "")
}

// hookMemoryScenario: on_exit hooks that allocate a megabyte per step
// until their deadline. The daemon's RSS must stay bounded and come back.
func hookMemoryScenario(ctx context.Context, r *run) {
	// The hook's deadline is long enough that on a loaded machine the
	// memory budget, not the deadline, is what stops the bombs.
	d := hookDaemon(ctx, r, "hook-memory", "",
		`function(p, e) local t = {} for i = 1, 1e6 do t[#t + 1] = string.rep("x", 1e6) end end`, " hook_timeout = 10,")
	if d == nil {
		return
	}
	st, _ := readStat(d.pid())
	base := st.rss
	// A watchdog for the whole scenario: past MaxRSS the daemon is killed,
	// so that a bomb cannot take the machine.
	wd := watchRSS(d, r.cfg.MaxRSS)
	defer wd.stop()
	time.Sleep(max(r.cfg.HookRun, 5*time.Second))
	peak, killed := wd.peakNow()
	if killed {
		r.figD(2, "daemon peak RSS", fmt.Sprintf("past the harness's cap of %s: daemon killed", mb(r.cfg.MaxRSS)), false)
		return
	}
	r.figD(2, "daemon peak RSS", fmt.Sprintf("%s (baseline %s)", mb(peak), mb(base)), peak <= base+512<<20)
	line := waitLogLineRE(ctx, d, `tend\.lua:\d+.*(?i:memory)|(?i:memory).*tend\.lua:\d+`, r.cfg.Bound)
	r.figD(2, "memory error logged with file:line", line, line != "absent")
	// The bombs stop; the memory must go back to the OS.
	d.ctl(ctx, 30*time.Second, "stop", "bomb")
	var now int64
	pollInt(ctx, 30*time.Second, func() int {
		s, _ := readStat(d.pid())
		now = s.rss
		return 0
	}, func(int) bool { return now <= base+64<<20 })
	if peak, killed = wd.peakNow(); killed {
		r.figD(2, "daemon peak RSS", fmt.Sprintf("past the harness's cap of %s: daemon killed", mb(r.cfg.MaxRSS)), false)
		return
	}
	r.figD(2, "daemon RSS after the bombs stop", fmt.Sprintf("%s (peak %s, baseline %s)", mb(now), mb(peak), mb(base)), now <= base+64<<20)
	d.ctl(ctx, 30*time.Second, "start", "bomb")
	hookChecks(ctx, r, d, "")
}

// rssWatch is a watchdog on a daemon's RSS.
type rssWatch struct {
	mu     sync.Mutex
	peak   int64
	killed bool
	done   chan struct{}
}

// watchRSS samples d's RSS every 50 ms, keeping the peak; past maxRSS it
// kills the daemon's process group.
func watchRSS(d *Daemon, maxRSS int64) *rssWatch {
	w := &rssWatch{done: make(chan struct{})}
	go func() {
		for {
			select {
			case <-w.done:
				return
			case <-d.exited:
				return
			case <-time.After(50 * time.Millisecond):
			}
			st, err := readStat(d.pid())
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.peak = max(w.peak, st.rss)
			over := st.rss > maxRSS
			w.killed = w.killed || over
			w.mu.Unlock()
			if over {
				syscall.Kill(-d.pid(), syscall.SIGKILL)
				d.cmd.Process.Kill()
				return
			}
		}
	}()
	return w
}

// peakNow returns the peak so far and whether the watchdog killed the daemon.
func (w *rssWatch) peakNow() (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.killed
}

func (w *rssWatch) stop() { close(w.done) }

// hookBlockScenario: an on_exit hook blocked in the kernel (fs.read of a
// FIFO nobody writes). The daemon must answer, update, reload on SIGHUP
// (and start the programs again) and obey SIGTERM.
func hookBlockScenario(ctx context.Context, r *run) {
	dir, err := r.dir("fifo")
	if err != nil {
		r.errFig("folder", err)
		return
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		r.errFig("mkfifo", err)
		return
	}
	// Unblock the reader at the end so that cleanup is not held up.
	defer func() {
		if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			syscall.Close(fd)
		}
	}()
	d := hookDaemon(ctx, r, "hook-block", `local fs = require "fs"`, fmt.Sprintf(`function(p, e) fs.read(%q) end`, fifo), "")
	if d == nil {
		return
	}
	time.Sleep(r.cfg.HookRun)
	hookChecks(ctx, r, d, "sighup")
}

// hookDaemon starts a daemon on hookBody and waits for the victim.
func hookDaemon(ctx context.Context, r *run, name, prelude, hook, bombOpts string) *Daemon {
	d, err := r.startDaemon(ctx, name, daemonOpts{body: hookBody(prelude, hook, bombOpts)})
	if err != nil {
		r.errFig("start daemon", err)
		return nil
	}
	return d
}

// hookChecks checks, with the bombs going off: status answers within the
// bound; a killed program is replaced within the bound; the bomb program
// still restarts; update adds a program; a reload (tend reload, or SIGHUP)
// leaves every program running again; SIGTERM ends the daemon in 10 s.
func hookChecks(ctx context.Context, r *run, d *Daemon, reload string) {
	defect := map[string]int{"hook-block": 1, "hook-memory": 2}[r.scenario]
	b := r.cfg.Bound
	ans := d.answers(ctx, b)
	r.figD(defect, "status answers", durOr(ans, "no answer within "+b.String()), ans >= 0)
	// A killed victim comes back.
	pids, err := d.pids(ctx)
	if err != nil {
		r.errFig("status", err)
		return
	}
	old := pids["victim:victim"]
	if old != 0 {
		syscall.Kill(old, syscall.SIGKILL)
	}
	var back time.Duration = -1
	t0 := time.Now()
	pollInt(ctx, b, func() int {
		p, _ := d.pids(ctx)
		if p["victim:victim"] != 0 && p["victim:victim"] != old {
			back = time.Since(t0)
		}
		return 0
	}, func(int) bool { return back >= 0 })
	r.figD(defect, "killed program replaced", durOr(back, "not within "+b.String()), back >= 0)
	m1, _ := d.metrics(ctx)
	var again time.Duration = -1
	t0 = time.Now()
	pollInt(ctx, b, func() int {
		if m2, err := d.metrics(ctx); err == nil && m2["tend_process_restarts_total"] > m1["tend_process_restarts_total"] {
			again = time.Since(t0)
		}
		return 0
	}, func(int) bool { return again >= 0 })
	r.figD(defect, "bomb program restarted again", durOr(again, "not within "+b.String()), again >= 0)
	// update adds a program.
	body, _ := os.ReadFile(d.config)
	text := strings.Replace(string(body), `program "victim"`, `program "added" { command = "sleep 100000", startsecs = 0 }
program "victim"`, 1)
	os.WriteFile(d.config, []byte(text), 0o644)
	var out string
	var rc int
	dt := timed(func() { out, rc = d.ctl(ctx, b, "update") })
	r.figD(defect, "update", fmt.Sprintf("exit %d in %s: %s", rc, dt.Round(time.Millisecond), out), rc == 0)
	// Reload: every program running again.
	pids, _ = d.pids(ctx)
	t0 = time.Now()
	if reload == "sighup" {
		d.cmd.Process.Signal(syscall.SIGHUP)
	} else {
		out, rc = d.ctl(ctx, b, "reload")
	}
	var ps []procInfo
	ok := false
	pollInt(ctx, 2*b, func() int {
		ps, _ = d.status(ctx)
		ok = len(ps) > 0
		for _, p := range ps {
			if p.Name == "bomb" {
				continue // it flaps by design
			}
			ok = ok && p.StateName == "RUNNING" && p.Pid != pids[p.full()]
		}
		return 0
	}, func(int) bool { return ok })
	r.figD(defect, map[string]string{"": "tend reload", "sighup": "SIGHUP"}[reload]+": programs running again",
		fmt.Sprintf("%s after %s", summarize(ps), time.Since(t0).Round(time.Millisecond)), ok)
	// Shutdown.
	took, clean := d.Stop(10 * time.Second)
	r.figD(defect, "SIGTERM: daemon exits", fmt.Sprintf("in %s", took.Round(time.Millisecond)), clean)
}

// waitLogLine polls the daemon's log for a line containing sub and returns
// it ("absent" after timeout).
func waitLogLine(ctx context.Context, d *Daemon, sub string, timeout time.Duration) string {
	var line string
	pollInt(ctx, timeout, func() int { line = firstMatch(d.mainLog(), sub); return 0 }, func(int) bool { return line != "absent" })
	return line
}

// waitLogLineRE polls the daemon's log for a line matching re, the
// daemon's folder left out.
func waitLogLineRE(ctx context.Context, d *Daemon, re string, timeout time.Duration) string {
	rx := regexp.MustCompile(re)
	line := "absent"
	pollInt(ctx, timeout, func() int {
		for _, l := range strings.Split(d.mainLog(), "\n") {
			// The folder's name (hook-memory-...) must not match.
			if rx.MatchString(strings.ReplaceAll(l, d.dir, "DIR")) {
				line = l
				return 1
			}
		}
		return 0
	}, func(n int) bool { return n == 1 })
	return line
}

// durOr formats d, or says why there is none (d < 0).
func durOr(d time.Duration, none string) string {
	if d < 0 {
		return none
	}
	return d.Round(time.Millisecond).String()
}
