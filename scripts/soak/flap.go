package main

import (
	"context"
	"fmt"
	"time"
)

// sample is the daemon's resource use at one moment.
type sample struct {
	fds, threads int
	goroutines   float64 // -1 when /metrics has no tend_goroutines
	rss          int64
	zombies      int
	restarts     float64
}

// sampleDaemon reads d's fd count, threads, RSS and zombie children from
// /proc, and goroutines and restarts from /metrics.
func sampleDaemon(ctx context.Context, d *Daemon) (sample, error) {
	// /proc first: scraping /metrics opens a connection to the daemon.
	st, err := readStat(d.pid())
	if err != nil {
		return sample{}, err
	}
	s := sample{fds: fdCount(d.pid()), threads: st.threads, rss: st.rss, zombies: zombiesOf(d.pid()), goroutines: -1}
	m, err := d.metrics(ctx)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	if g, ok := m["tend_goroutines"]; ok {
		s.goroutines = g
	}
	s.restarts = m["tend_process_restarts_total"]
	return s, nil
}

// flapScenario runs programs that exit at once with autorestart until the
// daemon has restarted them FlapRestarts times. Resources are compared at
// two quiet moments (flapping stopped, the harness's connections closed),
// after a warm-up and at the end, so that what the daemon holds for the
// children alive at that instant does not count as growth.
func flapScenario(ctx context.Context, r *run) {
	body := `program "flap" { command = "true", numprocs = 4, process_name = "%(program_name)s_%(process_num)d",
  startsecs = 0, autorestart = true, autostart = false, stdout_logfile = "NONE", stderr_logfile = "NONE" }
program "steady" { command = "sleep 100000", startsecs = 0 }
`
	d, err := r.startDaemon(ctx, "flap", daemonOpts{body: body})
	if err != nil {
		r.errFig("start daemon", err)
		return
	}
	// Warm up: let the runtime reach its working size before the baseline.
	warm := min(200, r.cfg.FlapRestarts/4)
	if _, _, err := flapFor(ctx, r, d, warm); err != nil {
		r.fig("warm-up restarts", err.Error(), false)
		return
	}
	before, err := quietSample(ctx, d)
	if err != nil {
		r.errFig("sample", err)
		return
	}
	n, dt, err := flapFor(ctx, r, d, r.cfg.FlapRestarts)
	r.fig("restarts", fmt.Sprintf("%.0f in %s (%.0f/s)%s", n, dt.Round(time.Millisecond), n/dt.Seconds(), errSuffix(err)), err == nil)
	after, err := quietSample(ctx, d)
	if err != nil {
		r.errFig("sample", err)
		return
	}
	r.fig("daemon fds (quiet)", fmt.Sprintf("%d -> %d", before.fds, after.fds), after.fds <= before.fds+2)
	r.fig("daemon threads", fmt.Sprintf("%d -> %d", before.threads, after.threads), after.threads <= before.threads+8)
	if before.goroutines < 0 {
		r.skip("daemon goroutines", "/metrics has no tend_goroutines")
	} else {
		r.fig("daemon goroutines (quiet)", fmt.Sprintf("%.0f -> %.0f", before.goroutines, after.goroutines), after.goroutines <= before.goroutines+5)
	}
	growth := after.rss - before.rss
	r.fig("daemon RSS", fmt.Sprintf("%s -> %s (%+.1f MB)", mb(before.rss), mb(after.rss), float64(growth)/(1<<20)),
		growth <= max(8<<20, before.rss/2))
	r.fig("zombie children after stop", fmt.Sprint(after.zombies), after.zombies == 0)
	if ans := d.answers(ctx, r.cfg.Bound); ans < 0 {
		r.fig("status after soak", "no answer within "+r.cfg.Bound.String(), false)
	}
}

func errSuffix(err error) string {
	if err != nil {
		return ": " + err.Error()
	}
	return ""
}

// flapFor starts flap:*, waits for n more restarts and stops it again. It
// returns the restarts counted and the time they took.
func flapFor(ctx context.Context, r *run, d *Daemon, n int) (float64, time.Duration, error) {
	if out, rc := d.ctl(ctx, 30*time.Second, "start", "flap:*"); rc < 0 {
		return 0, 0, fmt.Errorf("start flap:*: %s", out)
	}
	var first, last sample
	first.restarts = -1
	t0 := time.Now()
	deadline := t0.Add(r.cfg.FlapTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if m, err := d.metrics(ctx); err == nil {
			last.restarts = m["tend_process_restarts_total"]
			if first.restarts < 0 {
				first.restarts = last.restarts
			}
			if last.restarts-first.restarts >= float64(n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	dt := time.Since(t0)
	got := last.restarts - first.restarts
	if out, rc := d.ctl(ctx, 30*time.Second, "stop", "flap:*"); rc < 0 {
		return got, dt, fmt.Errorf("stop flap:*: %s", out)
	}
	if got < float64(n) {
		return got, dt, fmt.Errorf("%d restarts not reached in %s", n, r.cfg.FlapTimeout)
	}
	return got, dt, nil
}

// quietSample samples the daemon with flapping stopped, once its exited
// children are reaped and the harness's idle connections are closed.
func quietSample(ctx context.Context, d *Daemon) (sample, error) {
	pollInt(ctx, 5*time.Second, func() int { return zombiesOf(d.pid()) }, func(n int) bool { return n == 0 })
	d.hc.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	return sampleDaemon(ctx, d)
}

// pollInt polls f until ok holds or timeout passes, returning the last value.
func pollInt(ctx context.Context, timeout time.Duration, f func() int, ok func(int) bool) int {
	deadline := time.Now().Add(timeout)
	for {
		v := f()
		if ok(v) || ctx.Err() != nil || time.Now().After(deadline) {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mb formats bytes as MB with one decimal.
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
