package control

import (
	"errors"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// The JSON API's wire types. The tend CLI (package client, used by repl)
// decodes the same types, so they are the contract between the two sides.

// The JSON API's routes, each written as the server's mux pattern reads it:
// the method, a space, the path. The server registers these constants and
// the client sends to them, so the two sides cannot drift apart.
const (
	RouteStatus   = "GET /v1/status"
	RouteStart    = "POST /v1/start"
	RouteStop     = "POST /v1/stop"
	RouteSignal   = "POST /v1/signal"
	RoutePid      = "POST /v1/pid"
	RouteClear    = "POST /v1/clear"
	RouteRestart  = "POST /v1/restart"
	RouteAvail    = "GET /v1/avail"
	RouteTail     = "GET /v1/tail"
	RouteMainTail = "GET /v1/maintail"
	RouteReread   = "POST /v1/reread"
	RouteUpdate   = "POST /v1/update"
	RouteReload   = "POST /v1/reload"
	RouteShutdown = "POST /v1/shutdown"
	RouteVersion  = "GET /v1/version"
	RouteScale    = "POST /v1/scale"
	RouteEval     = "POST /v1/eval"
	RouteComplete = "GET /v1/complete"
	RouteAdd      = "POST /v1/add"
	RouteRemove   = "POST /v1/remove"
	RouteStdin    = "POST /v1/stdin"
	// RouteUsage is status with the resource figures of each process tree,
	// sampled from /proc by the request (tend status -v, tend ps).
	RouteUsage = "GET /v1/usage"
	// RouteEvents is the daemon's history of state changes (?name= keeps
	// one process's).
	RouteEvents = "GET /v1/events"
	// RouteRoll is a rolling restart (RollRequest), streamed as RollLine.
	RouteRoll = "POST /v1/roll"
	// RouteUsageHistory is the resource history of each process: the
	// points recorded while something sampled it (?name= repeated selects
	// processes, ?since= keeps the points after a Unix time).
	RouteUsageHistory = "GET /v1/usage/history"
	// RouteConfig is the resolved config of one process in use (?name=).
	RouteConfig = "GET /v1/config"
)

// APIPrefix is the path every route starts with; the server answers
// UNKNOWN_METHOD for any other path under it.
const APIPrefix = "/v1/"

// APIError is the error body of every failed /v1/ request. Code and Name
// are the supervisord fault (BAD_NAME is 10) so the client can print
// supervisorctl's texts; Message is the fault string ("BAD_NAME: web") or,
// for errors that are not faults (a Lua error from eval, a config error
// from reread), the error text.
type APIError struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Error returns the message.
func (e *APIError) Error() string { return e.Message }

// Fault returns the supervisor fault of the error.
func (e *APIError) Fault() supervisor.Fault { return supervisor.Fault(e.Code) }

// ErrorReply wraps an APIError as the JSON body {"error": {...}}.
type ErrorReply struct {
	Error *APIError `json:"error"`
}

// NewAPIError converts err to its wire form. A *supervisor.Error keeps its
// fault; anything else is FAILED with the error's text as message.
func NewAPIError(err error) *APIError {
	var se *supervisor.Error
	if errors.As(err, &se) {
		return &APIError{Code: int(se.Fault), Name: se.Fault.String(), Message: se.Error()}
	}
	return &APIError{Code: int(supervisor.FaultFailed), Name: supervisor.FaultFailed.String(), Message: err.Error()}
}

// ProcessInfo is one process as /v1/status reports it, with the fields of
// supervisord's getProcessInfo (times in epoch seconds, 0 when unset).
type ProcessInfo struct {
	Name          string `json:"name"`
	Group         string `json:"group"`
	State         int    `json:"state"`
	StateName     string `json:"statename"`
	Description   string `json:"description"`
	Pid           int    `json:"pid"`
	Start         int64  `json:"start"`
	Stop          int64  `json:"stop"`
	Now           int64  `json:"now"`
	ExitStatus    int    `json:"exitstatus"`
	SpawnErr      string `json:"spawnerr"`
	StdoutLogfile string `json:"stdout_logfile"`
	StderrLogfile string `json:"stderr_logfile"`
	// Waiting says what a start asked for still waits for (the requires
	// option): "db (ready)"; "" when the process is not waiting.
	Waiting string `json:"waiting,omitempty"`
}

// NewProcessInfo converts an engine snapshot to its wire form.
func NewProcessInfo(i supervisor.Info) ProcessInfo {
	return ProcessInfo{
		Name: i.Name, Group: i.Group, State: int(i.State), StateName: i.State.String(),
		Description: i.Description(), Pid: i.Pid, Start: epoch(i.Start), Stop: epoch(i.Stop),
		Now: epoch(i.Now), ExitStatus: i.ExitStatus, SpawnErr: i.SpawnErr,
		StdoutLogfile: i.StdoutLogfile, StderrLogfile: i.StderrLogfile, Waiting: i.Waiting,
	}
}

// ProcessUsage is one process as /v1/usage reports it: its status, how
// often it restarted and how it last ended, and what its process tree
// costs now (zero figures when it is not running).
type ProcessUsage struct {
	ProcessInfo
	Restarts   int    `json:"restarts"`
	Uptime     int64  `json:"uptime"`      // seconds; 0 when not running
	ExitSignal string `json:"exit_signal"` // "TERM" when a signal ended the last run, else ""
	// Procs counts the processes of the tree, the supervised one included.
	Procs      int     `json:"procs"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"` // since the previous sample, 100 = one core
	RSS        int64   `json:"rss"`         // bytes
	FDs        int     `json:"fds"`
	Threads    int     `json:"threads"`
	ReadBytes  int64   `json:"read_bytes"`
	WriteBytes int64   `json:"write_bytes"`
	IOKnown    bool    `json:"io_known"` // false when /proc/PID/io could not be read
	// LimitReason says why a limit (start_limit, permanent_exitcodes,
	// max_memory) last acted, StartFailures what start_limit counts, and
	// MemoryRestarts the restarts max_memory made.
	LimitReason    string `json:"limit_reason"`
	StartFailures  int    `json:"start_failures"`
	MemoryRestarts int    `json:"memory_restarts"`
	// Probe and Watchdog are the liveness checks' state while RUNNING
	// ("ok", "failing 2/3"; "30s, last ping 2s ago"), ProbeError the
	// probe's last failure, KillReason why tend last killed the process
	// as unhealthy.
	Probe      string `json:"probe,omitempty"`
	ProbeError string `json:"probe_error,omitempty"`
	Watchdog   string `json:"watchdog,omitempty"`
	KillReason string `json:"kill_reason,omitempty"`
}

// UsageReply is the body of /v1/usage.
type UsageReply struct {
	Processes []ProcessUsage `json:"processes"`
}

// NewProcessUsage converts an engine snapshot and its sample to their wire
// form.
func NewProcessUsage(i supervisor.Info, u supervisor.Usage) ProcessUsage {
	pu := ProcessUsage{
		ProcessInfo: NewProcessInfo(i), Restarts: i.Restarts, Uptime: int64(i.Uptime().Seconds()),
		Procs: u.Procs, CPUSeconds: u.CPUSeconds, CPUPercent: u.CPUPercent, RSS: u.RSS, FDs: u.FDs,
		Threads: u.Threads, ReadBytes: u.ReadBytes, WriteBytes: u.WriteBytes, IOKnown: u.IOKnown,
		LimitReason: i.LimitReason, StartFailures: i.StartFailures, MemoryRestarts: i.MemoryRestarts,
		Probe: i.Probe, ProbeError: i.ProbeError, Watchdog: i.Watchdog, KillReason: i.KillReason,
	}
	if i.ExitSignal != 0 {
		pu.ExitSignal = supervisor.SignalName(i.ExitSignal)
	}
	return pu
}

// UsagePoint is one point of a resource history. Time is Unix seconds
// with fractions.
type UsagePoint struct {
	Time       float64 `json:"time"`
	CPUPercent float64 `json:"cpu_percent"` // since the previous point of the same run, 100 = one core
	RSS        int64   `json:"rss"`         // bytes
}

// ProcessHistory is the resource history of one process, oldest first.
type ProcessHistory struct {
	Name   string       `json:"name"`
	Group  string       `json:"group"`
	Points []UsagePoint `json:"points"`
}

// UsageHistoryReply is the body of /v1/usage/history.
type UsageHistoryReply struct {
	// Step is the spacing of the points in seconds: at most one point per
	// step, and none while nothing sampled the process.
	Step      float64          `json:"step"`
	Processes []ProcessHistory `json:"processes"`
}

// ConfigOption is one option of a resolved config: its value as a config
// would write it ("" when unset) and its default.
type ConfigOption struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Default string `json:"default,omitempty"`
	Tend    bool   `json:"tend,omitempty"` // tend's own option, not supervisord's
}

// ProcessConfig is the body of /v1/config: the options of one process as
// the engine runs it, in ProgramOptions order.
type ProcessConfig struct {
	Name    string         `json:"name"`
	Group   string         `json:"group"`
	Program string         `json:"program"`
	Source  string         `json:"source"` // where it was declared ("tend.lua:12")
	Options []ConfigOption `json:"options"`
}

// StateChange is one entry of /v1/events: a process moved from one state
// to another. Time is Unix seconds with fractions.
type StateChange struct {
	Time     float64 `json:"time"`
	Name     string  `json:"name"`
	Group    string  `json:"group"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	Pid      int     `json:"pid,omitempty"`
	ExitCode *int    `json:"exit_code,omitempty"` // EXITED, BACKOFF, FATAL
	Signal   string  `json:"signal,omitempty"`
	Reason   string  `json:"reason,omitempty"`
}

// EventsReply is the body of /v1/events, oldest first.
type EventsReply struct {
	Events []StateChange `json:"events"`
}

// NewStateChange converts a history entry to its wire form.
func NewStateChange(c supervisor.StateChange) StateChange {
	out := StateChange{
		Time: float64(c.Time.UnixMicro()) / 1e6, Name: c.Process, Group: c.Group,
		From: c.From.String(), To: c.To.String(), Pid: c.Pid, Reason: c.Reason,
	}
	switch c.To {
	case supervisor.Exited, supervisor.Backoff, supervisor.Fatal:
		code := c.ExitCode
		out.ExitCode = &code
	}
	if c.Signal != 0 {
		out.Signal = supervisor.SignalName(c.Signal)
	}
	return out
}

func epoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// StatusReply is the body of GET /v1/status: every process, sorted by
// group then name. Filtering by name is the client's job, as in
// supervisorctl.
type StatusReply struct {
	Processes []ProcessInfo `json:"processes"`
}

// NamesRequest is the body of start, stop, restart, signal, pid and clear:
// the names as the user typed them ("web", "web:web_00", "web:*", "web:",
// "all"), and for signal the signal.
type NamesRequest struct {
	Names  []string `json:"names"`
	Signal string   `json:"signal,omitempty"`
	// NoWait makes start and stop return once requested instead of once
	// the process is running or stopped.
	NoWait bool `json:"nowait,omitempty"`
}

// Result is the outcome for one process of a group or all-process
// operation (supervisord's {name, group, status, description}).
type Result struct {
	Name        string `json:"name"`
	Group       string `json:"group"`
	Code        int    `json:"status"`
	Description string `json:"description"`
	Pid         int    `json:"pid,omitempty"` // for pid
}

// NameResult is the outcome for one requested name: the per-process
// results, or the error that made the whole name fail (BAD_NAME for an
// unknown process or group, for example).
type NameResult struct {
	Name    string    `json:"name"`
	Results []Result  `json:"results,omitempty"`
	Error   *APIError `json:"error,omitempty"`
}

// NamesReply is the reply of start, stop, signal, pid, clear, add and
// remove: one entry per requested name, in request order (for add and
// remove an entry without Error means done).
type NamesReply struct {
	Results []NameResult `json:"results"`
	// Pid is the daemon's pid, for pid with no names.
	Pid int `json:"pid,omitempty"`
}

// RestartReply is the reply of restart: what stop did, then what start did.
type RestartReply struct {
	Stopped []NameResult `json:"stopped"`
	Started []NameResult `json:"started"`
}

// ConfigInfo is one configured process as avail lists it.
type ConfigInfo struct {
	Name          string `json:"name"`
	Group         string `json:"group"`
	InUse         bool   `json:"inuse"`
	AutoStart     bool   `json:"autostart"`
	Priority      int    `json:"process_prio"`
	GroupPriority int    `json:"group_prio"`
}

// AvailReply is the body of GET /v1/avail.
type AvailReply struct {
	Processes []ConfigInfo `json:"processes"`
}

// Change is one group's part of a reread/update/scale plan.
type Change struct {
	Group   string   `json:"group"`
	Kind    string   `json:"kind"` // "added", "changed" or "removed"
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Fields  []string `json:"fields,omitempty"`
	Scaled  bool     `json:"scaled,omitempty"` // only instances added or removed
	Kept    int      `json:"kept,omitempty"`   // processes left running untouched
}

// NewChanges converts engine changes to their wire form.
func NewChanges(cs []supervisor.Change) []Change {
	out := make([]Change, 0, len(cs))
	for _, c := range cs {
		out = append(out, Change{Group: c.Group, Kind: c.Kind, Added: c.Added, Removed: c.Removed,
			Changed: c.Changed, Fields: c.Fields, Scaled: c.Scaled(), Kept: c.Kept})
	}
	return out
}

// ChangesReply is the reply of reread, update and scale.
type ChangesReply struct {
	Changes []Change `json:"changes"`
}

// UpdateRequest is the body of POST /v1/update: the groups to update, none
// meaning all.
type UpdateRequest struct {
	Groups []string `json:"groups,omitempty"`
}

// ScaleRequest is the body of POST /v1/scale.
type ScaleRequest struct {
	Program string `json:"program"`
	N       int    `json:"n"`
}

// EvalRequest is the body of POST /v1/eval.
type EvalRequest struct {
	Chunk string `json:"chunk"`
}

// EvalReply is the reply of eval: what the chunk printed and returned.
type EvalReply struct {
	Output string `json:"output"`
	// LuaError is set when the chunk failed (after printing Output).
	LuaError string `json:"lua_error,omitempty"`
}

// VersionReply is the body of GET /v1/version.
type VersionReply struct {
	Version string `json:"version"` // tend's own version
	// SupervisorVersion is the supervisord version tend is compatible
	// with, what getSupervisorVersion returns over XML-RPC ("4.2.5").
	SupervisorVersion string `json:"supervisor_version"`
	APIVersion        string `json:"api_version"`
}

// StdinRequest is the body of POST /v1/stdin: Chars are written to the
// stdin of the process Name (supervisord's sendProcessStdin).
type StdinRequest struct {
	Name  string `json:"name"`
	Chars string `json:"chars"`
}

// CompleteReply is the body of GET /v1/complete: words for REPL completion.
type CompleteReply struct {
	Processes []string `json:"processes"` // namespecs, then "group:*" for each group
	Globals   []string `json:"globals"`
}

// OKReply is the body of requests that only succeed or fail (reload,
// shutdown).
type OKReply struct {
	OK bool `json:"ok"`
}

// RollRequest asks for a rolling restart of the processes Name designates
// (supervisor.Engine.Roll). A limit left out takes its default: max_surge
// 1, max_unavailable 0.
type RollRequest struct {
	Name           string `json:"name"`
	MaxSurge       *int   `json:"max_surge,omitempty"`
	MaxUnavailable *int   `json:"max_unavailable,omitempty"`
}

// Options returns the engine's options for r, with the defaults applied.
func (r RollRequest) Options() supervisor.RollOptions {
	o := supervisor.RollOptions{MaxSurge: 1}
	if r.MaxSurge != nil {
		o.MaxSurge = *r.MaxSurge
	}
	if r.MaxUnavailable != nil {
		o.MaxUnavailable = *r.MaxUnavailable
	}
	return o
}

// RollStep is one instance done by a roll, in wire form; Text is how tend
// prints it ("web:web_03 new pid 1234 ready, old pid 1200 stopped (3/8)").
type RollStep struct {
	Name    string `json:"name"`
	OldPid  int    `json:"old_pid"`
	NewPid  int    `json:"new_pid"`
	Ready   bool   `json:"ready"`
	InPlace bool   `json:"in_place"`
	Was     string `json:"was"`
	Done    int    `json:"done"`
	Total   int    `json:"total"`
	Text    string `json:"text"`
}

// NewRollStep converts an engine step to its wire form.
func NewRollStep(s supervisor.RollStep) RollStep {
	return RollStep{Name: s.Name, OldPid: s.OldPid, NewPid: s.NewPid, Ready: s.Ready, InPlace: s.InPlace,
		Was: s.Was.String(), Done: s.Done, Total: s.Total, Text: s.String()}
}

// RollLine is one line of the /v1/roll stream (application/x-ndjson): a
// Step as each instance is done, then one last line that is either Done
// (every instance rolled) or Error (why the roll stopped). A stream that
// ends without that last line was cut.
type RollLine struct {
	Step  *RollStep `json:"step,omitempty"`
	Done  bool      `json:"done,omitempty"`
	Error *APIError `json:"error,omitempty"`
}
