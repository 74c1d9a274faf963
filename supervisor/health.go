package supervisor

import (
	"fmt"
	"log/slog"
	"syscall"
	"time"
)

// cause names what made the engine end a run it judged unhealthy. It is
// the one-word reason: token of the PROCESS_STATE_EXITED payload.
type cause string

// The causes of an unhealthy kill.
const (
	causeProbe    cause = "probe"    // the probe failed failure_threshold times
	causeWatchdog cause = "watchdog" // no WATCHDOG=1 within the interval, or WATCHDOG=trigger
	causeReady    cause = "ready"    // not ready within ready.timeout
)

// unhealthyKill is why the engine is ending the current run.
type unhealthyKill struct {
	cause  cause
	reason string // "probe failed 3 times: GET http://x/: 503"
}

// killUnhealthyLocked ends the current run because a check judged it
// unhealthy: its stopsignal now, SIGKILL after stopwaitsecs if it is
// still there. Unlike a stop request the state stays (RUNNING, or
// STARTING for a ready timeout) until the exit, which then counts as
// unexpected: autorestart (or on_exit) decides after RUNNING, and within
// startsecs it is a failed start whose spawnerr is the reason. So
// supervisorctl and event listeners see the RUNNING -> EXITED of a
// process that died, as supervisord would show it.
func (p *process) killUnhealthyLocked(c cause, reason string) {
	if p.pid == 0 || p.dying.cause != "" {
		return
	}
	p.stopProbeLocked()
	p.stopWatchdogLocked()
	p.dying = unhealthyKill{cause: c, reason: reason}
	if c != causeReady {
		p.killReason = reason
	}
	sig := p.spec.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	pid := p.pid
	p.logf(slog.LevelWarn, "unhealthy: %s: %s; stopping pid %d with SIG%s (SIGKILL after %s)",
		p.spec.Name, reason, pid, SignalName(sig), FormatSeconds(p.spec.StopWait))
	p.sendLocked(sig, p.spec.StopAsGroup)
	// afterLocked: any state change (the exit, a stop request) cancels it.
	p.afterLocked(p.spec.StopWait, func() {
		if p.pid != pid {
			return
		}
		p.logf(slog.LevelWarn, "killing '%s' (%d) with SIGKILL", p.spec.Name, pid)
		p.sendLocked(syscall.SIGKILL, p.spec.KillAsGroup)
	})
}

// startHealthLocked starts the probe and the watchdog of a run that just
// entered RUNNING.
func (p *process) startHealthLocked() {
	p.startProbeLocked()
	p.startWatchdogLocked()
}

// stopHealthLocked ends them: the run is stopping or has exited.
func (p *process) stopHealthLocked() {
	p.stopProbeLocked()
	p.stopWatchdogLocked()
}

// watchdogRun is the watchdog of one RUNNING period; guarded by
// Engine.mu.
type watchdogRun struct {
	interval time.Duration // 0: turned off by WATCHDOG_USEC=0
	last     time.Time     // the last WATCHDOG=1, or when it was armed
	seq      uint64        // arms so far: a timer of an older arm is stale
	stop     func() bool
}

// startWatchdogLocked arms the watchdog of a notify process entering
// RUNNING, with the interval the program last asked for (WATCHDOG_USEC=)
// or the watchdog option. The watchdog runs only while RUNNING: before,
// ready.timeout covers a hung start.
func (p *process) startWatchdogLocked() {
	if p.spec.Watchdog <= 0 || p.rd == nil || p.rd.env == "" || p.pid == 0 {
		return
	}
	p.stopWatchdogLocked()
	wd := &watchdogRun{interval: p.spec.Watchdog}
	if p.rd.watchdogUsec != nil {
		wd.interval = *p.rd.watchdogUsec
	}
	p.wd = wd
	p.armWatchdogLocked(wd)
}

// armWatchdogLocked (re)starts the interval from now.
func (p *process) armWatchdogLocked(wd *watchdogRun) {
	if wd.stop != nil {
		wd.stop()
		wd.stop = nil
	}
	wd.seq++
	wd.last = p.e.clock.Now()
	if wd.interval <= 0 {
		return
	}
	seq, interval := wd.seq, wd.interval
	wd.stop = p.e.clock.AfterFunc(interval, func() {
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if p.wd == wd && wd.seq == seq {
			p.killUnhealthyLocked(causeWatchdog, "watchdog timeout after "+FormatSeconds(interval))
		}
	})
}

func (p *process) stopWatchdogLocked() {
	if p.wd != nil {
		if p.wd.stop != nil {
			p.wd.stop()
		}
		p.wd = nil
	}
}

// watchdogNotifyLocked applies the watchdog fields of one notify
// datagram: WATCHDOG=1 restarts the interval, WATCHDOG=trigger fails the
// watchdog at once (as systemd does, even without the watchdog option)
// and WATCHDOG_USEC= sets a new interval from now (0 turns it off). Before
// RUNNING only WATCHDOG_USEC= counts: it sets the interval armed at
// RUNNING.
func (p *process) watchdogNotifyLocked(rr *readyRun, key, val string) {
	switch {
	case key == "WATCHDOG" && val == "1":
		if p.wd != nil {
			p.armWatchdogLocked(p.wd)
		}
	case key == "WATCHDOG" && val == "trigger":
		if p.state != Running && p.state != Starting {
			return
		}
		p.killUnhealthyLocked(causeWatchdog, "watchdog triggered by the program (WATCHDOG=trigger)")
	case key == "WATCHDOG_USEC":
		var us uint64
		if _, err := fmt.Sscan(val, &us); err != nil || us > uint64(1<<63-1)/1000 {
			p.logf(slog.LevelWarn, "notify: %s sent a bad WATCHDOG_USEC=%q", p.spec.Name, val)
			return
		}
		if p.spec.Watchdog <= 0 {
			p.logf(slog.LevelWarn, "notify: %s sent WATCHDOG_USEC but its program has no watchdog option: ignored", p.spec.Name)
			return
		}
		d := time.Duration(us) * time.Microsecond
		rr.watchdogUsec = &d
		if p.wd != nil {
			p.wd.interval = d
			p.armWatchdogLocked(p.wd)
		}
	}
}

// healthInfoLocked fills the probe and watchdog fields of a snapshot.
func (p *process) healthInfoLocked(i *Info, now time.Time) {
	i.KillReason = p.killReason
	if pr := p.probe; pr != nil {
		i.Probe, i.ProbeError = pr.state(), pr.lastError
	}
	if wd := p.wd; wd != nil {
		if wd.interval <= 0 {
			i.Watchdog = "off (WATCHDOG_USEC=0)"
		} else {
			i.Watchdog = fmt.Sprintf("%s, last ping %s ago", FormatSeconds(wd.interval), FormatSeconds(now.Sub(wd.last).Round(100*time.Millisecond)))
		}
	}
}
