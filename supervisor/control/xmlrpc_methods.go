package control

import (
	"context"
	"errors"
	"os"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// xmlrpcMethods builds the fixed method table: every supervisor.* and
// system.* method of supervisord 4.2.5 with its signature.
func (s *Server) xmlrpcMethods() xrMethods {
	const (
		str, boolean, integer, array, strct = "string", "boolean", "int", "array", "struct"
	)
	version := func(context.Context, []any) (any, error) { return APIVersion, nil }
	m := xrMethods{
		"supervisor.getAPIVersion": {sig: []string{str}, help: "Return the version of the RPC API used by supervisord", fn: version},
		"supervisor.getVersion":    {sig: []string{str}, help: "Return the version of the RPC API used by supervisord (deprecated alias of getAPIVersion)", fn: version},
		"supervisor.getSupervisorVersion": {sig: []string{str}, help: "Return the version of the supervisor package in use by supervisord",
			fn: func(context.Context, []any) (any, error) { return SupervisorVersion, nil }},
		"supervisor.getIdentification": {sig: []string{str}, help: "Return identifying string of supervisord",
			fn: func(context.Context, []any) (any, error) { return s.opts.Identification, nil }},
		"supervisor.getState": {sig: []string{strct}, help: "Return current state of supervisord as a struct",
			fn: func(context.Context, []any) (any, error) {
				return xrStruct{{"statecode", 1}, {"statename", "RUNNING"}}, nil
			}},
		"supervisor.getPID":   {sig: []string{integer}, help: "Return the PID of supervisord", fn: s.xrGetPID},
		"supervisor.readLog":  {sig: []string{str, integer, integer}, help: "Read length bytes from the main log starting at offset", fn: s.xrReadMainLog},
		"supervisor.clearLog": {sig: []string{boolean}, help: "Clear the main log", fn: s.xrClearMainLog},
		"supervisor.shutdown": {sig: []string{boolean}, help: "Shut down the supervisor process", fn: s.xrShutdown},
		"supervisor.restart":  {sig: []string{boolean}, help: "Restart the supervisor process", fn: s.xrRestart},
		"supervisor.reloadConfig": {sig: []string{array}, help: "Reload the configuration: [[added, changed, removed]] group names",
			fn: s.xrReloadConfig},
		"supervisor.addProcessGroup": {sig: []string{boolean, str}, help: "Update the config for a running process from config file",
			fn: s.xrAddProcessGroup},
		"supervisor.removeProcessGroup": {sig: []string{boolean, str}, help: "Remove a stopped process from the active configuration",
			fn: s.xrRemoveProcessGroup},
		"supervisor.startProcess": {sig: []string{boolean, str, boolean}, optional: 1, help: "Start a process",
			fn: xrProcessCall(s.eng.Start)},
		"supervisor.startProcessGroup": {sig: []string{array, str, boolean}, optional: 1, help: "Start all processes in the group named 'name'",
			fn: xrGroupCall(s.eng.Start)},
		"supervisor.startAllProcesses": {sig: []string{array, boolean}, optional: 1, help: "Start all processes listed in the configuration file",
			fn: xrAllCall(s.eng.Start)},
		"supervisor.stopProcess": {sig: []string{boolean, str, boolean}, optional: 1, help: "Stop a process named by name",
			fn: xrProcessCall(s.eng.Stop)},
		"supervisor.stopProcessGroup": {sig: []string{array, str, boolean}, optional: 1, help: "Stop all processes in the process group named 'name'",
			fn: xrGroupCall(s.eng.Stop)},
		"supervisor.stopAllProcesses": {sig: []string{array, boolean}, optional: 1, help: "Stop all processes in the process list",
			fn: xrAllCall(s.eng.Stop)},
		"supervisor.signalProcess": {sig: []string{boolean, str, str}, help: "Send an arbitrary UNIX signal to the process named by name",
			fn: s.xrSignalCall(xrNameTarget)},
		"supervisor.signalProcessGroup": {sig: []string{array, str, str}, help: "Send a signal to all processes in the group named 'name'",
			fn: s.xrSignalCall(xrGroupTarget)},
		"supervisor.signalAllProcesses": {sig: []string{array, str}, help: "Send a signal to all processes in the process list",
			fn: s.xrSignalCall(xrAllTarget)},
		"supervisor.getAllConfigInfo": {sig: []string{array}, help: "Get info about all available process configurations",
			fn: s.xrGetAllConfigInfo},
		"supervisor.getProcessInfo": {sig: []string{strct, str}, help: "Get info about a process named name",
			fn: s.xrGetProcessInfo},
		"supervisor.getAllProcessInfo": {sig: []string{array}, help: "Get info about all processes",
			fn: s.xrGetAllProcessInfo},
		"supervisor.readProcessStdoutLog": {sig: []string{str, str, integer, integer}, help: "Read length bytes from name's stdout log starting at offset",
			fn: s.xrReadProcessLog("stdout")},
		"supervisor.readProcessStderrLog": {sig: []string{str, str, integer, integer}, help: "Read length bytes from name's stderr log starting at offset",
			fn: s.xrReadProcessLog("stderr")},
		"supervisor.tailProcessStdoutLog": {sig: []string{array, str, integer, integer}, help: "Tail the stdout log: [string bytes, int offset, bool overflow]",
			fn: s.xrTailProcessLog("stdout")},
		"supervisor.tailProcessStderrLog": {sig: []string{array, str, integer, integer}, help: "Tail the stderr log: [string bytes, int offset, bool overflow]",
			fn: s.xrTailProcessLog("stderr")},
		"supervisor.clearProcessLogs": {sig: []string{boolean, str}, help: "Clear the stdout and stderr logs for the named process and reopen them",
			fn: s.xrClearProcessLogs},
		"supervisor.clearAllProcessLogs": {sig: []string{array}, help: "Clear all process log files",
			fn: s.xrClearAllProcessLogs},
		"supervisor.sendProcessStdin": {sig: []string{boolean, str, str}, help: "Send a string of chars to the stdin of the process name",
			fn: s.xrSendProcessStdin},
		"supervisor.sendRemoteCommEvent": {sig: []string{boolean, str, str}, shutdownOK: true,
			help: "Send an event that will be received by event listener subprocesses subscribing to the RemoteCommunicationEvent",
			fn:   s.xrSendRemoteCommEvent},
	}
	// supervisord's backward-compatible aliases.
	for alias, name := range map[string]string{
		"supervisor.readMainLog":     "supervisor.readLog",
		"supervisor.readProcessLog":  "supervisor.readProcessStdoutLog",
		"supervisor.tailProcessLog":  "supervisor.tailProcessStdoutLog",
		"supervisor.clearProcessLog": "supervisor.clearProcessLogs",
	} {
		m[alias] = m[name]
	}
	m["system.listMethods"] = xrMethod{sig: []string{array}, shutdownOK: true,
		help: "Return an array listing the available method names",
		fn:   func(context.Context, []any) (any, error) { return m.names(), nil }}
	m["system.methodHelp"] = xrMethod{sig: []string{str, str}, shutdownOK: true,
		help: "Return a string showing the method's documentation",
		fn:   m.methodHelp}
	m["system.methodSignature"] = xrMethod{sig: []string{array, str}, shutdownOK: true,
		help: "Return an array describing the method signature in the form [rtype, ptype, ptype...]",
		fn:   m.methodSignature}
	m["system.multicall"] = xrMethod{sig: []string{array, array}, shutdownOK: true,
		help: "Process an array of calls, and return an array of results",
		fn: func(ctx context.Context, args []any) (any, error) {
			return s.xrMulticall(ctx, m, args)
		}}
	return m
}

func (s *Server) xrGetPID(context.Context, []any) (any, error) {
	if s.opts.Daemon == nil {
		return os.Getpid(), nil
	}
	return s.opts.Daemon.Pid(), nil
}

// xrMainLogError maps a logfile error to supervisord's fault.
func xrMainLogError(err error, path string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, logfile.ErrNoFile):
		return &supervisor.Error{Fault: supervisor.FaultNoFile, Detail: path}
	case errors.Is(err, logfile.ErrBadArguments):
		return &supervisor.Error{Fault: supervisor.FaultBadArguments}
	}
	return &supervisor.Error{Fault: supervisor.FaultFailed, Detail: err.Error()}
}

func (s *Server) xrReadMainLog(_ context.Context, args []any) (any, error) {
	off, err := xrArgInt(args, 0)
	if err != nil {
		return nil, err
	}
	n, err := xrArgInt(args, 1)
	if err != nil {
		return nil, err
	}
	if s.opts.MainLog == nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultNoFile}
	}
	data, err := s.opts.MainLog.Read(off, n)
	if err != nil {
		return nil, xrMainLogError(err, s.opts.MainLog.Path())
	}
	return string(data), nil
}

func (s *Server) xrClearMainLog(context.Context, []any) (any, error) {
	if s.opts.MainLog == nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultNoFile}
	}
	if err := s.opts.MainLog.Clear(); err != nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: err.Error()}
	}
	return true, nil
}

func (s *Server) xrShutdown(context.Context, []any) (any, error) {
	if s.opts.Daemon == nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: "no daemon to shut down"}
	}
	s.opts.Daemon.Shutdown()
	return true, nil
}

func (s *Server) xrRestart(context.Context, []any) (any, error) {
	if s.opts.Daemon == nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: "no daemon to restart"}
	}
	if err := s.opts.Daemon.Reload(); err != nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: "restart: " + err.Error()}
	}
	return true, nil
}

// xrReloadConfig re-reads the config (Daemon.Reread) and returns supervisord's
// [[added, changed, removed]] group names; nothing is applied.
func (s *Server) xrReloadConfig(ctx context.Context, _ []any) (any, error) {
	if s.opts.Daemon == nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultCantReread, Detail: "no configuration"}
	}
	changes, err := s.opts.Daemon.Reread(ctx)
	if err != nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultCantReread, Detail: err.Error()}
	}
	added, changed, removed := []string{}, []string{}, []string{}
	for _, c := range changes {
		switch c.Kind {
		case "added":
			added = append(added, c.Group)
		case "changed":
			changed = append(changed, c.Group)
		case "removed":
			removed = append(removed, c.Group)
		}
	}
	return []any{[]any{added, changed, removed}}, nil
}

// xrAvailable returns the specs of the config as last read.
func (s *Server) xrAvailable(ctx context.Context) ([]supervisor.Spec, error) {
	if s.opts.Daemon == nil {
		return s.eng.Specs(), nil
	}
	specs, err := s.opts.Daemon.Available(ctx)
	if err != nil {
		return nil, &supervisor.Error{Fault: supervisor.FaultFailed, Detail: "read config: " + err.Error()}
	}
	return specs, nil
}

func (s *Server) xrAddProcessGroup(ctx context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	if err := s.addGroup(ctx, name); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) xrRemoveProcessGroup(_ context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	if err := s.eng.RemoveGroup(name); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) xrSendRemoteCommEvent(_ context.Context, args []any) (any, error) {
	typ, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	data, err := xrArgString(args, 1, "")
	if err != nil {
		return nil, err
	}
	// The payload is supervisord's REMOTE_COMMUNICATION body.
	s.eng.Publish(supervisor.Event{Type: supervisor.EventRemoteComm, Data: []byte("type:" + typ + "\n" + data)})
	return true, nil
}
