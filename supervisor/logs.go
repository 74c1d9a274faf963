package supervisor

import (
	"errors"
	"sync/atomic"

	"github.com/tend-sh/tend/supervisor/logfile"
)

func (p *process) closeLogsLocked() {
	for _, f := range []*logfile.File{p.stdout, p.stderr} {
		if f != nil {
			p.e.logWriters(f.Path()).Add(-1)
			f.Close()
		}
	}
	p.stdout, p.stderr = nil, nil
}

// logWriters returns the count of the process logs open on path (every
// log is counted from openLogsLocked to closeLogsLocked). Called with
// e.mu held; the counter itself is read without it.
func (e *Engine) logWriters(path string) *atomic.Int32 {
	if e.logUsers == nil {
		e.logUsers = make(map[string]*atomic.Int32)
	}
	n := e.logUsers[path]
	if n == nil {
		n = new(atomic.Int32)
		e.logUsers[path] = n
	}
	return n
}

// logLocked returns the open log of a channel ("stdout" or "stderr"), or
// the path of a named log file that is not open yet.
func (p *process) logLocked(channel string) (*logfile.File, string, error) {
	ls, f := p.spec.Stdout, p.stdout
	switch channel {
	case "stdout", "":
	case "stderr":
		if p.spec.RedirectStderr {
			return nil, "", fault(FaultNoFile, p.spec.Namespec())
		}
		ls, f = p.spec.Stderr, p.stderr
	default:
		return nil, "", fault(FaultBadArguments, "channel "+channel)
	}
	if f != nil {
		return f, f.Path(), nil
	}
	if ls.Path == LogNone || ls.Path == LogAuto || ls.Path == "" {
		return nil, "", fault(FaultNoFile, p.spec.Namespec())
	}
	return nil, ls.Path, nil
}

// LogFile returns the open log of a process's channel, for following it.
// A process that has not started yet, or logs to NONE, gives NO_FILE.
func (e *Engine) LogFile(name, channel string) (*logfile.File, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.processLocked(name)
	if err != nil {
		return nil, err
	}
	f, _, err := p.logLocked(channel)
	if err == nil && f == nil {
		err = fault(FaultNoFile, name)
	}
	return f, err
}

// logTarget finds a process's log: the open File, or the path of a named
// log that is not open yet.
func (e *Engine) logTarget(name, channel string) (*logfile.File, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.processLocked(name)
	if err != nil {
		return nil, "", err
	}
	return p.logLocked(channel)
}

// ReadLog reads a process's log as supervisord's readProcessStdoutLog:
// offset >= 0 reads length bytes from offset (0 = to the end); a negative
// offset with length 0 reads the last -offset bytes.
func (e *Engine) ReadLog(name, channel string, offset, length int64) ([]byte, error) {
	f, path, err := e.logTarget(name, channel)
	if err != nil {
		return nil, err
	}
	var data []byte
	if f != nil {
		data, err = f.Read(offset, length)
	} else {
		data, err = logfile.ReadPath(path, offset, length)
	}
	return data, logError(err, name)
}

// TailLog reads the end of a process's log as supervisord's
// tailProcessStdoutLog: up to length bytes from offset, the new offset, and
// whether bytes were skipped.
func (e *Engine) TailLog(name, channel string, offset, length int64) ([]byte, int64, bool, error) {
	f, path, err := e.logTarget(name, channel)
	if FaultOf(err) == FaultNoFile {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	if f != nil {
		data, off, over, err := f.Tail(offset, length)
		return data, off, over, logError(err, name)
	}
	data, off, over, err := logfile.TailPath(path, offset, length)
	return data, off, over, logError(err, name)
}

func logError(err error, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, logfile.ErrNoFile):
		return fault(FaultNoFile, name)
	case errors.Is(err, logfile.ErrBadArguments):
		return fault(FaultBadArguments, name)
	}
	return fault(FaultFailed, name+": "+err.Error())
}

// Clear truncates the stdout and stderr logs of the processes t
// designates (rotated backups are kept), as supervisord's
// clearProcessLogs does for one process and clearAllProcessLogs for all.
// Results are in config order.
func (e *Engine) Clear(t Target) ([]Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	procs, err := e.targetLocked(t)
	if err != nil {
		return nil, err
	}
	b := newBatch(procs)
	for i, p := range procs {
		b.done(i, p.clearLocked())
	}
	return b.wait(nil), nil
}

func (p *process) clearLocked() error {
	for _, f := range []*logfile.File{p.stdout, p.stderr} {
		if f != nil {
			if err := f.Clear(); err != nil {
				return fault(FaultFailed, p.spec.Namespec()+": "+err.Error())
			}
		}
	}
	return nil
}

// ReopenLogs closes and reopens every open log file (SIGUSR2).
func (e *Engine) ReopenLogs() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, p := range e.procs {
		for _, f := range []*logfile.File{p.stdout, p.stderr} {
			if f != nil {
				errs = append(errs, f.Reopen())
			}
		}
	}
	return errors.Join(errs...)
}

// SendStdin writes data to a running process's standard input.
func (e *Engine) SendStdin(name string, data []byte) error {
	e.mu.Lock()
	p, err := e.processLocked(name)
	var w interface{ Write([]byte) (int, error) }
	if err == nil {
		switch {
		case !p.state.IsSignallable() || p.pid == 0:
			err = fault(FaultNotRunning, name)
		case p.stdin == nil:
			err = fault(FaultNoFile, name)
		default:
			w = p.stdin
		}
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return fault(FaultNotRunning, name)
	}
	return nil
}
