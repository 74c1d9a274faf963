package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// Status returns the processes the names select, in the daemon's order
// (by group, then name), or every process when there are no names or one
// of them is "all". Names that select nothing come back in an
// *UnknownNamesError beside the processes the others selected, as
// supervisorctl status reports them and goes on.
func (c *Client) Status(ctx context.Context, names ...string) ([]control.ProcessInfo, error) {
	var procs []control.ProcessInfo
	presize := func(n int) { procs = make([]control.ProcessInfo, 0, n) }
	if err := c.status(ctx, names, presize, func(p control.ProcessInfo) { procs = append(procs, p) }); err != nil {
		return nil, err
	}
	return selectNames(procs, names, func(i control.ProcessInfo) (string, string) { return i.Group, i.Name })
}

// EachStatus calls fn with the status of every process, in the daemon's
// order, as the reply arrives. Unlike Status it holds neither the reply
// nor a list: the caller keeps what it needs, which at thousands of
// processes is much less.
func (c *Client) EachStatus(ctx context.Context, fn func(control.ProcessInfo)) error {
	return c.status(ctx, nil, nil, fn)
}

// minProcessJSON is the least a process takes in a status reply as the
// daemon encodes it: every key but waiting is always there.
const minProcessJSON = len(`{"name":"","group":"","state":0,"statename":"","description":"","pid":0,"start":0,"stop":0,` +
	`"now":0,"exitstatus":0,"spawnerr":"","stdout_logfile":"","stderr_logfile":""},`)

// status requests the status of the processes the names select and
// decodes the reply into fn, calling presize (if set) first with at least
// the number of processes the reply's length can hold.
func (c *Client) status(ctx context.Context, names []string, presize func(n int), fn func(control.ProcessInfo)) error {
	var query url.Values
	if len(names) > 0 && !slices.Contains(names, "all") {
		// Only the processes asked for travel; selectNames still orders
		// them and names the unknown ones.
		query = url.Values{"name": names}
	}
	resp, err := c.request(ctx, control.RouteStatus, query, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if n := resp.ContentLength; presize != nil && n > 0 && n <= maxPresize {
		presize(int(n) / minProcessJSON)
	}
	if err := decodeStatus(resp.Body, fn); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("decode %s reply: %w", control.RouteStatus, err)
	}
	return nil
}

// Usage is Status with the resource figures of each process tree (CPU,
// memory, descriptors, threads, I/O), restarts and the last exit, sampled
// by the daemon for this request. Names select as in Status.
func (c *Client) Usage(ctx context.Context, names ...string) ([]control.ProcessUsage, error) {
	var r control.UsageReply
	if err := c.call(ctx, control.RouteUsage, nil, &r); err != nil {
		return nil, err
	}
	return selectNames(r.Processes, names, func(i control.ProcessUsage) (string, string) { return i.Group, i.Name })
}

// Events returns the daemon's history of state changes, oldest first (the
// last supervisor.HistorySize).
func (c *Client) Events(ctx context.Context) ([]control.StateChange, error) {
	var r control.EventsReply
	if err := c.call(ctx, control.RouteEvents, nil, &r); err != nil {
		return nil, err
	}
	return r.Events, nil
}

// ProcessEvents returns the state changes of one process ("web" or
// "grp:web_00") that the daemon's history holds, oldest first.
func (c *Client) ProcessEvents(ctx context.Context, name string) ([]control.StateChange, error) {
	var r control.EventsReply
	if err := c.callQuery(ctx, control.RouteEvents, url.Values{"name": {name}}, nil, &r); err != nil {
		return nil, err
	}
	return r.Events, nil
}

// UsageHistory returns the resource history of the processes the names
// select (all for none), the points after since (all for the zero time).
// The daemon records points only while something samples the process
// (Usage, a scrape, the web page, a max_memory limit), one per
// UsageHistoryReply.Step; an unknown name is a BAD_NAME fault.
func (c *Client) UsageHistory(ctx context.Context, since time.Time, names ...string) (control.UsageHistoryReply, error) {
	q := url.Values{}
	for _, n := range names {
		q.Add("name", n)
	}
	if !since.IsZero() {
		q.Set("since", strconv.FormatFloat(float64(since.UnixMilli())/1000, 'f', 3, 64))
	}
	var r control.UsageHistoryReply
	err := c.callQuery(ctx, control.RouteUsageHistory, q, nil, &r)
	return r, err
}

// Config returns the resolved config of one process in use.
func (c *Client) Config(ctx context.Context, name string) (control.ProcessConfig, error) {
	var r control.ProcessConfig
	err := c.callQuery(ctx, control.RouteConfig, url.Values{"name": {name}}, nil, &r)
	return r, err
}

// EventStream is a stream of state changes from FollowEvents.
type EventStream struct {
	body io.ReadCloser
	dec  *json.Decoder
}

// Next returns the next state change; it blocks until the daemon reports
// one, and fails once the stream ends.
func (s *EventStream) Next() (control.StateChange, error) {
	var c control.StateChange
	err := s.dec.Decode(&c)
	return c, err
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// EventJSON writes a state change as the one line of JSON that tend
// events --json prints (the wire form of /v1/events).
func EventJSON(c control.StateChange) string {
	b, err := json.Marshal(c)
	if err != nil {
		return "{}" // a struct of strings and numbers always marshals
	}
	return string(b)
}

// FollowEvents streams the state changes made from now on, until ctx ends
// or the stream is closed (tend events -f).
func (c *Client) FollowEvents(ctx context.Context) (*EventStream, error) {
	body, err := c.stream(ctx, control.RouteEvents, url.Values{"follow": {"1"}})
	if err != nil {
		return nil, err
	}
	return &EventStream{body: body, dec: json.NewDecoder(body)}, nil
}

// selectNames keeps the processes names select, as supervisorctl status
// selects them: all of them for no names or "all", names that select
// nothing in an *UnknownNamesError beside the rest.
func selectNames[P any](procs []P, names []string, key func(P) (group, name string)) ([]P, error) {
	if len(names) == 0 || slices.Contains(names, "all") {
		return procs, nil
	}
	var matching []P
	var unknown []string
	for _, name := range names {
		t := supervisor.ParseTarget(name)
		found := false
		for _, p := range procs {
			if g, n := key(p); g == t.Group && (t.Process == "" || n == t.Process) {
				found = true
				matching = append(matching, p)
			}
		}
		if !found {
			unknown = append(unknown, name)
		}
	}
	if unknown != nil {
		return matching, &UnknownNamesError{Names: unknown}
	}
	return matching, nil
}

// Start starts the named processes and waits until each is running or
// has failed to start. There is one result per name, in order.
func (c *Client) Start(ctx context.Context, names ...string) ([]control.NameResult, error) {
	return c.names(ctx, control.RouteStart, control.NamesRequest{Names: normalizeAll(names)})
}

// Stop stops the named processes and waits until each has stopped.
func (c *Client) Stop(ctx context.Context, names ...string) ([]control.NameResult, error) {
	return c.names(ctx, control.RouteStop, control.NamesRequest{Names: normalizeAll(names)})
}

// Restart stops, then starts the named processes, and returns what each
// half did.
func (c *Client) Restart(ctx context.Context, names ...string) (control.RestartReply, error) {
	var r control.RestartReply
	err := c.call(ctx, control.RouteRestart, control.NamesRequest{Names: normalizeAll(names)}, &r)
	return r, err
}

// Signal sends sig (a name such as "HUP" or a number) to the named
// processes.
func (c *Client) Signal(ctx context.Context, sig string, names ...string) ([]control.NameResult, error) {
	return c.names(ctx, control.RouteSignal, control.NamesRequest{Signal: sig, Names: normalizeAll(names)})
}

// Clear empties the log files of the named processes.
func (c *Client) Clear(ctx context.Context, names ...string) ([]control.NameResult, error) {
	return c.names(ctx, control.RouteClear, control.NamesRequest{Names: normalizeAll(names)})
}

// Pid returns the daemon's pid, and the pid of each named process (0 when
// it is not running), one result per name.
func (c *Client) Pid(ctx context.Context, names ...string) (daemon int, results []control.NameResult, err error) {
	var r control.NamesReply
	if err := c.call(ctx, control.RoutePid, control.NamesRequest{Names: normalizeAll(names)}, &r); err != nil {
		return 0, nil, err
	}
	return r.Pid, r.Results, nil
}

// names sends a NamesRequest and returns the per-name results.
func (c *Client) names(ctx context.Context, route string, req control.NamesRequest) ([]control.NameResult, error) {
	var r control.NamesReply
	if err := c.call(ctx, route, req, &r); err != nil {
		return nil, err
	}
	return r.Results, nil
}

// normalizeAll reduces a name list containing "all" to just "all", as
// supervisorctl then makes the one all-process call.
func normalizeAll(names []string) []string {
	if slices.Contains(names, "all") {
		return []string{"all"}
	}
	return names
}

// Avail returns every process of the config as last read, in use or not.
func (c *Client) Avail(ctx context.Context) ([]control.ConfigInfo, error) {
	var r control.AvailReply
	if err := c.call(ctx, control.RouteAvail, nil, &r); err != nil {
		return nil, err
	}
	return r.Processes, nil
}

// Tail returns the last n bytes of a process log; channel is "stdout" or
// "stderr".
func (c *Client) Tail(ctx context.Context, name, channel string, n int64) ([]byte, error) {
	q := url.Values{"name": {name}, "channel": {channel}, "bytes": {strconv.FormatInt(n, 10)}}
	return c.text(ctx, control.RouteTail, q)
}

// FollowTail streams a process log, starting with its last kilobyte,
// until ctx ends or the caller closes the stream.
func (c *Client) FollowTail(ctx context.Context, name, channel string) (io.ReadCloser, error) {
	q := url.Values{"name": {name}, "channel": {channel}, "follow": {"1"}}
	return c.stream(ctx, control.RouteTail, q)
}

// MainTail returns the last n bytes of the daemon's own log.
func (c *Client) MainTail(ctx context.Context, n int64) ([]byte, error) {
	return c.text(ctx, control.RouteMainTail, url.Values{"bytes": {strconv.FormatInt(n, 10)}})
}

// FollowMainTail streams the daemon's own log until ctx ends or the caller
// closes the stream.
func (c *Client) FollowMainTail(ctx context.Context) (io.ReadCloser, error) {
	return c.stream(ctx, control.RouteMainTail, url.Values{"follow": {"1"}})
}

// stream sends a GET and returns the reply body for the caller to read
// and close.
func (c *Client) stream(ctx context.Context, route string, query url.Values) (io.ReadCloser, error) {
	resp, err := c.request(ctx, route, query, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Reread loads the config anew and returns what Update would change,
// applying nothing.
func (c *Client) Reread(ctx context.Context) ([]control.Change, error) {
	var r control.ChangesReply
	if err := c.call(ctx, control.RouteReread, nil, &r); err != nil {
		return nil, err
	}
	return r.Changes, nil
}

// Update loads the config anew and applies it to the named groups, or to
// all groups when there are none or one of them is "all". Groups the
// daemon does not know come back in an *UnknownNamesError beside the
// changes made to the others, as supervisorctl update reports them.
func (c *Client) Update(ctx context.Context, groups ...string) ([]control.Change, error) {
	if slices.Contains(groups, "all") {
		groups = nil
	}
	groups = slices.Clone(groups)
	var unknown []string
	for {
		var r control.ChangesReply
		err := c.call(ctx, control.RouteUpdate, control.UpdateRequest{Groups: groups}, &r)
		if bad, ok := badName(err); ok && len(groups) > 0 {
			// The daemon refuses the whole request for one unknown
			// group: drop it and ask again for the rest.
			unknown = append(unknown, bad)
			groups = slices.DeleteFunc(groups, func(g string) bool { return g == bad })
			if len(groups) > 0 {
				continue
			}
			err = nil
		}
		if unknown != nil {
			return r.Changes, &UnknownNamesError{Names: unknown, Err: err}
		}
		return r.Changes, err
	}
}

// badName returns the name a BAD_NAME fault names.
func badName(err error) (string, bool) {
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Fault() != supervisor.FaultBadName {
		return "", false
	}
	return strings.TrimPrefix(ae.Message, "BAD_NAME: "), true
}

// Reload restarts the daemon: it reads its config anew, daemon settings
// included, and restarts every process (supervisord's reload). It returns
// once the restart has begun.
func (c *Client) Reload(ctx context.Context) error {
	var r control.OKReply
	return c.call(ctx, control.RouteReload, nil, &r)
}

// Shutdown begins the daemon's shutdown.
func (c *Client) Shutdown(ctx context.Context) error {
	var r control.OKReply
	return c.call(ctx, control.RouteShutdown, nil, &r)
}

// Version returns the version the daemon reports.
func (c *Client) Version(ctx context.Context) (control.VersionReply, error) {
	var r control.VersionReply
	err := c.call(ctx, control.RouteVersion, nil, &r)
	return r, err
}

// Scale sets the number of instances of a program and returns the change,
// none when it already has n.
func (c *Client) Scale(ctx context.Context, program string, n int) ([]control.Change, error) {
	var r control.ChangesReply
	if err := c.call(ctx, control.RouteScale, control.ScaleRequest{Program: program, N: n}, &r); err != nil {
		return nil, err
	}
	return r.Changes, nil
}

// Eval runs a Lua chunk in the daemon and returns what it printed and
// returned. A chunk that fails returns its output and a *LuaError.
// Cancelling ctx aborts the request, and the daemon then cancels the
// chunk.
func (c *Client) Eval(ctx context.Context, chunk string) (string, error) {
	var r control.EvalReply
	if err := c.call(ctx, control.RouteEval, control.EvalRequest{Chunk: chunk}, &r); err != nil {
		return "", err
	}
	if r.LuaError != "" {
		return r.Output, &LuaError{Message: r.LuaError}
	}
	return r.Output, nil
}

// Complete returns the words the REPL completes: process names
// (namespecs, then "group:*" for each group) and the daemon's Lua
// globals.
func (c *Client) Complete(ctx context.Context) (control.CompleteReply, error) {
	var r control.CompleteReply
	err := c.call(ctx, control.RouteComplete, nil, &r)
	return r, err
}

// Add activates process groups of the config that do not run yet
// (supervisorctl add): one result per group, in order, whose Error is
// ALREADY_ADDED, BAD_NAME (no such group in the config) or
// SHUTDOWN_STATE, or nil when the group was added.
func (c *Client) Add(ctx context.Context, groups ...string) ([]control.NameResult, error) {
	return c.names(ctx, control.RouteAdd, control.NamesRequest{Names: groups})
}

// Remove takes stopped process groups out of the running set
// (supervisorctl remove): one result per group, whose Error is
// STILL_RUNNING, BAD_NAME or SHUTDOWN_STATE, or nil when it was removed.
func (c *Client) Remove(ctx context.Context, groups ...string) ([]control.NameResult, error) {
	return c.names(ctx, control.RouteRemove, control.NamesRequest{Names: groups})
}

// SendStdin writes chars to the stdin of the process name (supervisord's
// sendProcessStdin): a *control.APIError with BAD_NAME, NOT_RUNNING or
// NO_FILE when it cannot.
func (c *Client) SendStdin(ctx context.Context, name, chars string) error {
	var r control.OKReply
	return c.call(ctx, control.RouteStdin, control.StdinRequest{Name: name, Chars: chars}, &r)
}

// Roll runs a rolling restart of the processes name designates and calls
// progress (if not nil) with each instance as it is done. It returns nil
// once every instance is rolled; a roll that stopped gives a
// *control.APIError whose message says which instance failed and why.
// Ending ctx interrupts the roll in the daemon.
func (c *Client) Roll(ctx context.Context, req control.RollRequest, progress func(control.RollStep)) error {
	resp, err := c.request(ctx, control.RouteRoll, nil, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var l control.RollLine
		if err := dec.Decode(&l); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("roll of %s: the daemon's answer ended early: %w", req.Name, err)
		}
		switch {
		case l.Error != nil:
			return l.Error
		case l.Done:
			return nil
		case l.Step != nil && progress != nil:
			progress(*l.Step)
		}
	}
}

// Reexec asks the daemon to exec binary ("" = its own) in place. It returns
// once the daemon has checked the binary and is about to exec it; Reexecd
// then says how it went.
func (c *Client) Reexec(ctx context.Context, binary string) (control.ReexecReply, error) {
	var r control.ReexecReply
	err := c.call(ctx, control.RouteReexec, control.ReexecRequest{Binary: binary}, &r)
	return r, err
}

// ReexecStatus returns the daemon's version and the outcome of its last
// re-exec.
func (c *Client) ReexecStatus(ctx context.Context) (control.ReexecStatus, error) {
	var r control.ReexecStatus
	err := c.call(ctx, control.RouteReexecStatus, nil, &r)
	return r, err
}

// WaitReexec waits until the daemon serves again after the re-exec
// numbered gen and returns its status: connections made meanwhile wait in
// the socket's backlog, and a connection cut by the exec is retried, until
// ctx ends.
func (c *Client) WaitReexec(ctx context.Context, gen int) (control.ReexecStatus, error) {
	for {
		st, err := c.ReexecStatus(ctx)
		if err == nil && st.Generation >= gen {
			return st, nil
		}
		if ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			return st, err
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
