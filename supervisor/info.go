package supervisor

import (
	"fmt"
	"syscall"
	"time"
)

// Info is a snapshot of one process, with every field of supervisord's
// getProcessInfo.
type Info struct {
	Name       string
	Group      string
	Program    string
	Num        int
	State      State
	Pid        int       // 0 when not running
	Start      time.Time // last spawn; zero if never started
	Stop       time.Time // last stop or exit; zero if never stopped
	Now        time.Time
	ExitStatus int // last exit status; 0 when unknown
	// ExitSignal is the signal that ended the last run, or 0.
	ExitSignal syscall.Signal
	// LimitReason says why a limit (start_limit, permanent_exitcodes,
	// max_memory) last acted on the process; "" if none did since it was
	// last started by request.
	LimitReason string
	// StartFailures counts the failures start_limit holds against the
	// process (within its interval, as of the last failure).
	StartFailures int
	// MemoryRestarts counts the restarts max_memory made.
	MemoryRestarts int
	SpawnErr       string // why the last start failed, if it did
	StdoutLogfile  string // "" when none
	StderrLogfile  string
	Restarts       int // restarts since the daemon loaded the process
	Priority       int
	GroupPriority  int
	AutoStart      bool
	Essential      bool // the program's end ends the daemon (Spec.Essential)
	InUse          bool // false for a process that is configured but being removed
	// Adopted marks a process left running by a previous engine and
	// adopted by Recover: its output is not captured.
	Adopted bool
	// DroppedStdout and DroppedStderr count the bytes of output the log
	// files could not take (the disk was full), since the process was
	// loaded.
	DroppedStdout, DroppedStderr int64
	// StatusText is the last STATUS= the process sent on its notify
	// socket; shown after supervisord's description.
	StatusText string
	// NotifyRejected counts notify datagrams from senders not believed.
	NotifyRejected int
	// Ready is set once a process with a ready option reported ready.
	Ready bool
	// Requires are the process's requirements (the requires option), each
	// with the condition it waits for; the default is named (ready or
	// running).
	Requires []Requirement
	// Waiting says what a start asked for still waits for: "db (ready),
	// migrate (completed_successfully)"; "" when the process is not
	// waiting. Description shows it after supervisord's text.
	Waiting string
	// Probe is the liveness probe's state while RUNNING: "pending",
	// "ok" or "failing 2/3" ("" without a probe or when not RUNNING);
	// ProbeError is the last failure while it is failing.
	Probe, ProbeError string
	// Watchdog is the watchdog's state while RUNNING ("30s, last ping 2s
	// ago"); "" without one.
	Watchdog string
	// KillReason says why the engine last killed the process as
	// unhealthy (a probe, the watchdog); "" if it did not since it was
	// last started by request.
	KillReason string
	// Rolling is set while a rolling restart (Engine.Roll) covers the
	// process; RollDone and RollTotal count the instances that roll has
	// done and covers.
	Rolling             bool
	RollDone, RollTotal int
}

// RollNote is the status note of a roll in progress, "rolling (3/8)", or
// "" when none covers the process.
func (i Info) RollNote() string {
	if !i.Rolling {
		return ""
	}
	return fmt.Sprintf("rolling (%d/%d)", i.RollDone, i.RollTotal)
}

// Namespec returns "group:name", or "name" when both are equal.
func (i Info) Namespec() string { return Namespec(i.Group, i.Name) }

// Uptime returns how long a running process has been up.
func (i Info) Uptime() time.Duration {
	if i.Pid == 0 || i.Start.IsZero() {
		return 0
	}
	return i.Now.Sub(i.Start)
}

// Description returns supervisord's description of the process state:
// "pid 13199, uptime 0:00:15" for running processes, the spawn error for
// BACKOFF and FATAL, the stop time for stopped ones.
func (i Info) Description() string {
	d := i.description()
	if i.StatusText != "" && (i.State == Running || i.State == Starting || i.State == Stopping) {
		if d != "" {
			d += ", "
		}
		d += i.StatusText
	}
	if i.Waiting != "" {
		if d != "" {
			d += ", "
		}
		d += "waiting for " + i.Waiting
	}
	if n := i.RollNote(); n != "" {
		if d != "" {
			d += ", "
		}
		d += n
	}
	return d
}

func (i Info) description() string {
	switch i.State {
	case Running:
		d := fmt.Sprintf("pid %d, uptime %s", i.Pid, FormatUptime(i.Now.Sub(i.Start)))
		if i.Adopted {
			d += " (adopted after a restart of tend: output not captured)"
		}
		return d
	case Backoff, Fatal:
		if i.SpawnErr == "" {
			return `unknown error (try "tail ` + i.Namespec() + `")`
		}
		return i.SpawnErr
	case Stopped, Exited:
		if i.Start.IsZero() {
			return "Not started"
		}
		return i.Stop.Local().Format("Jan 02 03:04 PM")
	}
	return ""
}

// FormatUptime formats d as Python's timedelta does ("0:00:05",
// "1 day, 0:00:03", "3 days, 2:03:04"), which is what supervisorctl prints.
func FormatUptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64(d / time.Second)
	days := secs / 86400
	secs %= 86400
	hms := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs%3600/60, secs%60)
	switch days {
	case 0:
		return hms
	case 1:
		return "1 day, " + hms
	}
	return fmt.Sprintf("%d days, %s", days, hms)
}
