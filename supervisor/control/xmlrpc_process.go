package control

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// xrResultsArray converts group-operation results to supervisord's structs.
func xrResultsArray(rs []supervisor.Result) []xrStruct {
	out := make([]xrStruct, 0, len(rs))
	for _, r := range rs {
		out = append(out, xrStruct{{"name", r.Name}, {"group", r.Group}, {"status", int(r.Fault)}, {"description", r.Description}})
	}
	return out
}

// xrProcessCall implements startProcess/stopProcess(name, wait=True); a
// "group:*" or "group:" name acts on the whole group, as in supervisord.
func xrProcessCall(op targetOp) xrMethodFunc {
	return func(ctx context.Context, args []any) (any, error) {
		name, err := xrArgString(args, 0, "")
		if err != nil {
			return nil, err
		}
		wait, err := xrArgBool(args, 1, true)
		if err != nil {
			return nil, err
		}
		return xrTargetResults(supervisor.ParseNamespec(name), func(t supervisor.Target) ([]supervisor.Result, error) {
			return op(ctx, t, wait)
		})
	}
}

// xrTargetResults runs op on t and answers as supervisord does: true or the
// fault for one process, an array of result structs for a group.
func xrTargetResults(t supervisor.Target, op func(supervisor.Target) ([]supervisor.Result, error)) (any, error) {
	rs, err := op(t)
	if !t.IsProcess() || err != nil {
		return xrGroupResults(rs, err)
	}
	if err := oneErr(rs, nil); err != nil {
		return nil, err
	}
	return true, nil
}

// xrGroupCall implements start/stopProcessGroup(name, wait=True).
func xrGroupCall(op targetOp) xrMethodFunc {
	return func(ctx context.Context, args []any) (any, error) {
		name, err := xrArgString(args, 0, "")
		if err != nil {
			return nil, err
		}
		wait, err := xrArgBool(args, 1, true)
		if err != nil {
			return nil, err
		}
		return xrGroupResults(op(ctx, supervisor.GroupTarget(name), wait))
	}
}

// xrAllCall implements start/stopAllProcesses(wait=True).
func xrAllCall(op targetOp) xrMethodFunc {
	return func(ctx context.Context, args []any) (any, error) {
		wait, err := xrArgBool(args, 0, true)
		if err != nil {
			return nil, err
		}
		return xrGroupResults(op(ctx, supervisor.AllTarget, wait))
	}
}

func xrGroupResults(rs []supervisor.Result, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return xrResultsArray(rs), nil
}

// xrSignalArg reads a signal argument, a name ("HUP", "SIGHUP") or a
// number given as a string or an int, as the text signal parses.
func xrSignalArg(args []any, i int) (string, error) {
	switch v := args[i].(type) {
	case string:
		return v, nil
	case int64:
		return fmt.Sprint(v), nil
	}
	return "", xrBadParam("signal must be a string or an integer")
}

// xrSignalCall implements signalProcess, signalProcessGroup and
// signalAllProcesses: target reads the name argument (if any), and the
// signal follows it.
func (s *Server) xrSignalCall(target func(args []any) (supervisor.Target, int, error)) xrMethodFunc {
	return func(_ context.Context, args []any) (any, error) {
		t, i, err := target(args)
		if err != nil {
			return nil, err
		}
		sig, err := xrSignalArg(args, i)
		if err != nil {
			return nil, err
		}
		return xrTargetResults(t, func(t supervisor.Target) ([]supervisor.Result, error) { return s.signal(t, sig) })
	}
}

// xrNameTarget reads the name argument of signalProcess.
func xrNameTarget(args []any) (supervisor.Target, int, error) {
	name, err := xrArgString(args, 0, "")
	return supervisor.ParseNamespec(name), 1, err
}

// xrGroupTarget reads the group argument of signalProcessGroup.
func xrGroupTarget(args []any) (supervisor.Target, int, error) {
	name, err := xrArgString(args, 0, "")
	return supervisor.GroupTarget(name), 1, err
}

// xrAllTarget is signalAllProcesses' target; the signal is the only argument.
func xrAllTarget([]any) (supervisor.Target, int, error) { return supervisor.AllTarget, 0, nil }

// xrEpoch is a time as supervisord's integer epoch seconds (0 = never).
func xrEpoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// xrNamedLogPath returns a configured log path that is a real file name
// (not AUTO or NONE), for processes whose log is not open yet.
func xrNamedLogPath(ls supervisor.LogSpec) string {
	switch ls.Path {
	case "", supervisor.LogAuto, supervisor.LogNone:
		return ""
	}
	return ls.Path
}

// xrProcessStruct is getProcessInfo's struct, field for field.
func xrProcessStruct(i supervisor.Info, spec *supervisor.Spec) xrStruct {
	stdout, stderr := i.StdoutLogfile, i.StderrLogfile
	if spec != nil {
		if stdout == "" {
			stdout = xrNamedLogPath(spec.Stdout)
		}
		if stderr == "" && !spec.RedirectStderr {
			stderr = xrNamedLogPath(spec.Stderr)
		}
	}
	return xrStruct{
		{"name", i.Name}, {"group", i.Group},
		{"start", xrEpoch(i.Start)}, {"stop", xrEpoch(i.Stop)}, {"now", xrEpoch(i.Now)},
		{"state", int(i.State)}, {"statename", i.State.String()},
		{"spawnerr", i.SpawnErr}, {"exitstatus", i.ExitStatus},
		{"logfile", stdout}, {"stdout_logfile", stdout}, {"stderr_logfile", stderr},
		{"pid", i.Pid}, {"description", i.Description()},
	}
}

// xrSpecIndex maps namespecs to the specs of the processes in use.
func (s *Server) xrSpecIndex() map[string]*supervisor.Spec {
	specs := s.eng.Specs()
	out := make(map[string]*supervisor.Spec, len(specs))
	for i := range specs {
		out[specs[i].Namespec()] = &specs[i]
	}
	return out
}

func (s *Server) xrGetProcessInfo(_ context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	info, err := s.eng.Info(name)
	if err != nil {
		return nil, err
	}
	return xrProcessStruct(info, s.xrSpecIndex()[info.Namespec()]), nil
}

// xrGetAllProcessInfo answers from the cached encoding while nothing has
// changed (see replyCache): supervisorctl status polled by many clients
// costs one encoding per change or second, not one per request.
func (s *Server) xrGetAllProcessInfo(context.Context, []any) (any, error) {
	return xrEncoded(s.xrAllInfo.get(s.eng, func(infos []supervisor.Info) []byte {
		idx := s.xrSpecIndex()
		out := make([]xrStruct, 0, len(infos))
		for _, i := range infos {
			out = append(out, xrProcessStruct(i, idx[i.Namespec()]))
		}
		var b bytes.Buffer
		xrEncodeValue(&b, out)
		return b.Bytes()
	})), nil
}

// xrOrNone is supervisord's rendering of an unset option.
func xrOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// xrLogOption renders a log target as getAllConfigInfo does.
func xrLogOption(p string) string {
	switch p {
	case "", supervisor.LogAuto:
		return "auto"
	case supervisor.LogNone:
		return "none"
	}
	return p
}

// xrConfigStruct is getAllConfigInfo's struct for one process: what
// supervisord reports of the process, then the options whose
// supervisor.Option.ConfigInfo names a member.
func xrConfigStruct(sp supervisor.Spec, inUse bool) xrStruct {
	var uid any = "none"
	if sp.Credential != nil {
		uid = int64(sp.Credential.Uid)
	}
	command := sp.CommandLine
	if command == "" {
		command = strings.Join(sp.Command, " ")
	}
	out := xrStruct{{"uid", uid}, {"command", command}, {"group", sp.Group},
		{"group_prio", sp.GroupPriority}, {"inuse", inUse}, {"name", sp.Name}}
	for _, o := range supervisor.ProgramOptions {
		if o.ConfigInfo != "" {
			out = append(out, xrMember{o.ConfigInfo, xrOptionValue(o, o.Value(&sp))})
		}
	}
	return out
}

// xrOptionValue is an option's value as getAllConfigInfo reports it:
// whole seconds, signal numbers, "none" for an unset string.
func xrOptionValue(o supervisor.Option, v any) any {
	switch x := v.(type) {
	case time.Duration:
		return int64(x / time.Second)
	case syscall.Signal:
		return int(x)
	case []int:
		codes := make([]any, 0, len(x))
		for _, c := range x {
			codes = append(codes, c)
		}
		return codes
	case string:
		if o.Kind == supervisor.KindLogFile {
			return xrLogOption(x)
		}
		return xrOrNone(x)
	}
	return v
}

func (s *Server) xrGetAllConfigInfo(ctx context.Context, _ []any) (any, error) {
	specs, err := s.xrAvailable(ctx)
	if err != nil {
		return nil, err
	}
	inUse := map[string]bool{}
	for _, g := range s.eng.Groups() {
		inUse[g] = true
	}
	specs = slices.Clone(specs)
	slices.SortStableFunc(specs, func(a, b supervisor.Spec) int { return cmp.Compare(a.Name, b.Name) })
	out := make([]xrStruct, 0, len(specs))
	for _, sp := range specs {
		out = append(out, xrConfigStruct(sp, inUse[sp.Group]))
	}
	return out, nil
}

// xrLogArgs reads the (name, offset, length) arguments of the log methods.
func xrLogArgs(args []any) (string, int64, int64, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return "", 0, 0, err
	}
	off, err := xrArgInt(args, 1)
	if err != nil {
		return "", 0, 0, err
	}
	n, err := xrArgInt(args, 2)
	return name, off, n, err
}

func (s *Server) xrReadProcessLog(channel string) func(context.Context, []any) (any, error) {
	return func(_ context.Context, args []any) (any, error) {
		name, off, n, err := xrLogArgs(args)
		if err != nil {
			return nil, err
		}
		data, err := s.eng.ReadLog(name, channel, off, n)
		if err != nil {
			return nil, err
		}
		return string(data), nil
	}
}

func (s *Server) xrTailProcessLog(channel string) func(context.Context, []any) (any, error) {
	return func(_ context.Context, args []any) (any, error) {
		name, off, n, err := xrLogArgs(args)
		if err != nil {
			return nil, err
		}
		data, newOff, overflow, err := s.eng.TailLog(name, channel, off, n)
		if err != nil {
			return nil, err
		}
		return []any{string(data), newOff, overflow}, nil
	}
}

func (s *Server) xrClearProcessLogs(_ context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	t := supervisor.ParseNamespec(name)
	if !t.IsProcess() { // supervisord clears one process here, never a group
		return nil, &supervisor.Error{Fault: supervisor.FaultBadName, Detail: name}
	}
	return xrTargetResults(t, s.eng.Clear)
}

func (s *Server) xrClearAllProcessLogs(context.Context, []any) (any, error) {
	return xrGroupResults(s.eng.Clear(supervisor.AllTarget))
}

func (s *Server) xrSendProcessStdin(_ context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	chars, err := xrArgString(args, 1, "")
	if err != nil {
		return nil, xrBadParam("chars must be a string")
	}
	if err := s.eng.SendStdin(name, []byte(chars)); err != nil {
		return nil, err
	}
	return true, nil
}
