package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the probe option.
const (
	DefaultProbePeriod           = 10 * time.Second
	DefaultProbeTimeout          = time.Second
	DefaultProbeFailureThreshold = 3
	DefaultProbeSuccessThreshold = 1
)

// ProbeSpec is a liveness check (the probe option): while the process is
// RUNNING the engine runs it every Period. FailureThreshold failures in a
// row end the process as unhealthy: its stopsignal, SIGKILL after
// stopwaitsecs, and its exit is unexpected, so autorestart decides. After
// a failure the probe passes again only after SuccessThreshold successes
// in a row; only then does the failure count go back to 0.
type ProbeSpec struct {
	HTTP  string     // a URL: passes on 2xx or 3xx
	TCP   string     // host:port: passes when a connection succeeds
	Exec  string     // a shell command: passes when it exits 0
	Check ReadyCheck // the config's function: passes when it returns true

	Period           time.Duration // between two tries; 0 = DefaultProbePeriod
	Timeout          time.Duration // bounds one try; 0 = DefaultProbeTimeout
	InitialDelay     time.Duration // after entering RUNNING, before the first try
	FailureThreshold int           // 0 = DefaultProbeFailureThreshold
	SuccessThreshold int           // 0 = DefaultProbeSuccessThreshold
}

// Validate reports a ProbeSpec that sets no check or more than one, or a
// negative threshold.
func (r *ProbeSpec) Validate() error {
	n := 0
	for _, set := range []bool{r.HTTP != "", r.TCP != "", r.Exec != "", r.Check != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return fmt.Errorf("probe needs exactly one of http, tcp, exec, check (got %d)", n)
	case r.FailureThreshold < 0 || r.SuccessThreshold < 0:
		return fmt.Errorf("probe thresholds must be >= 1")
	}
	return nil
}

func (r *ProbeSpec) period() time.Duration  { return orDefault(r.Period, DefaultProbePeriod) }
func (r *ProbeSpec) timeout() time.Duration { return orDefault(r.Timeout, DefaultProbeTimeout) }
func (r *ProbeSpec) failures() int {
	return orDefault(r.FailureThreshold, DefaultProbeFailureThreshold)
}
func (r *ProbeSpec) successes() int {
	return orDefault(r.SuccessThreshold, DefaultProbeSuccessThreshold)
}
func (r *ProbeSpec) check() check {
	return check{HTTP: r.HTTP, TCP: r.TCP, Exec: r.Exec, Script: r.Check}
}

// sameAs compares two probe specs as reread does: a scripted check is
// code, replaced on reload like the hooks, so only its presence counts.
func (r *ProbeSpec) sameAs(o *ProbeSpec) bool {
	a, b := *r, *o
	if (a.Check == nil) != (b.Check == nil) {
		return false
	}
	a.Check, b.Check = nil, nil
	return a == b
}

// probeCounter is the threshold state machine of one run's probe.
type probeCounter struct {
	failureThreshold, successThreshold int
	tries                              int // results so far
	failures                           int // failures since the probe last passed
	successes                          int // successes in a row since the last failure
	lastError                          string
}

// record counts one result and reports whether the failure threshold is
// reached. A success after failures clears them only once successes
// reach the success threshold: until then the probe is still failing, and
// the next failure adds to the count.
func (c *probeCounter) record(ok bool, detail string) (dead bool) {
	c.tries++
	if ok {
		if c.failures > 0 {
			c.successes++
			if c.successes >= c.successThreshold {
				c.failures, c.successes, c.lastError = 0, 0, ""
			}
		}
		return false
	}
	c.successes = 0
	c.failures++
	c.lastError = detail
	return c.failures >= c.failureThreshold
}

// state says how the probe stands: "pending" before its first result,
// "ok", or "failing 2/3".
func (c *probeCounter) state() string {
	switch {
	case c.failures > 0:
		return fmt.Sprintf("failing %d/%d", c.failures, c.failureThreshold)
	case c.tries == 0:
		return "pending"
	}
	return "ok"
}

// probeRun is the probe of one RUNNING period of a process; guarded by
// Engine.mu, except cancel which is safe anywhere.
type probeRun struct {
	probeCounter
	cancel context.CancelFunc
}

// startProbeLocked starts the probe of the run that just entered RUNNING.
func (p *process) startProbeLocked() {
	r := p.spec.Probe
	if r == nil || p.pid == 0 {
		return
	}
	p.stopProbeLocked()
	ctx, cancel := context.WithCancel(context.Background())
	pr := &probeRun{cancel: cancel, probeCounter: probeCounter{failureThreshold: r.failures(), successThreshold: r.successes()}}
	p.probe = pr
	go p.runProbe(ctx, pr, *r, p.childEnv())
}

// stopProbeLocked ends the current run's probe: the run stopped, exited
// or is being killed.
func (p *process) stopProbeLocked() {
	if p.probe != nil {
		p.probe.cancel()
		p.probe = nil
	}
}

// runProbe tries the check every period until ctx ends or the failure
// threshold is reached. It waits on the engine's clock and runs each try
// under its own deadline, never holding Engine.mu.
func (p *process) runProbe(ctx context.Context, pr *probeRun, r ProbeSpec, env []string) {
	wait := r.InitialDelay
	for {
		if !sleepClock(ctx, p.e.clock, wait) {
			return
		}
		wait = r.period()
		tryCtx, cancel := context.WithTimeout(ctx, r.timeout())
		res := p.runCheck(tryCtx, p.probeCheck(r), env, r.timeout())
		cancel()
		if ctx.Err() != nil || !p.probeResult(pr, res) {
			return
		}
	}
}

// probeCheck returns the check to try: r's, with the scripted check the
// spec holds now, since a reload that keeps the probe replaces its
// function (and the VM it runs on) without restarting the process.
func (p *process) probeCheck(r ProbeSpec) check {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if cur := p.spec.Probe; cur != nil && r.Check != nil {
		r.Check = cur.Check
	}
	return r.check()
}

// probeResult applies one try's result; false when the probe is over (a
// stale run, or the process is being killed for it).
func (p *process) probeResult(pr *probeRun, res checkResult) bool {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if p.probe != pr || p.state != Running {
		return false
	}
	wasFailing := pr.failures > 0
	dead := pr.record(res.ok, res.detail)
	switch {
	case dead:
		times := fmt.Sprintf("%d times", pr.failures)
		if pr.failures == 1 {
			times = "once"
		}
		p.killUnhealthyLocked(causeProbe, fmt.Sprintf("probe failed %s: %s", times, pr.lastError))
		return false
	case !res.ok:
		p.logf(slog.LevelWarn, "probe of %s failed (%d/%d): %s", p.spec.Name, pr.failures, pr.failureThreshold, res.detail)
	case wasFailing && pr.failures == 0:
		p.logf(slog.LevelInfo, "probe of %s passes again", p.spec.Name)
	}
	return true
}
