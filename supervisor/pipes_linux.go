package supervisor

import (
	"context"
	"errors"
	"golang.org/x/sys/unix"
	"log/slog"
	"os"
	"time"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// pipes are the three standard streams of one child. The child's ends
// are plain descriptors: wrapping them in *os.File would register each
// with Go's netpoller and switch it to non-blocking and back, a dozen
// system calls per spawn for descriptors that are closed right after the
// fork (see BenchmarkRespawn).
type pipes struct {
	stdinW           *os.File
	stdoutR, stderrR *os.File // stderrR is nil with redirect_stderr
	stdinR, stdoutW  int
	stderrW          int // -1 with redirect_stderr
}

func newPipes(redirect bool) (*pipes, error) {
	pp := &pipes{stdinR: -1, stdoutW: -1, stderrW: -1}
	var err error
	if pp.stdinW, pp.stdinR, err = pipePair(false, "stdin"); err != nil {
		return nil, err
	}
	if pp.stdoutR, pp.stdoutW, err = pipePair(true, "stdout"); err != nil {
		pp.closeParentEnds()
		pp.closeChildEnds()
		return nil, err
	}
	growPipe(pp.stdoutW)
	if !redirect {
		if pp.stderrR, pp.stderrW, err = pipePair(true, "stderr"); err != nil {
			pp.closeParentEnds()
			pp.closeChildEnds()
			return nil, err
		}
		growPipe(pp.stderrW)
	}
	return pp, nil
}

// pipePair makes a close-on-exec pipe and returns tend's end, non-blocking
// and in the netpoller as os.Pipe makes it, and the child's end, blocking.
func pipePair(parentReads bool, name string) (*os.File, int, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, -1, os.NewSyscallError("pipe2", err)
	}
	parent, child := fds[1], fds[0]
	if parentReads {
		parent, child = fds[0], fds[1]
	}
	// A read end is made for the pump (see unpolled): wrapped while still
	// blocking, so that os.NewFile leaves it out of Go's netpoller.
	var f *os.File
	if parentReads {
		f = os.NewFile(uintptr(parent), "|"+name)
	}
	if err := unix.SetNonblock(parent, true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, -1, os.NewSyscallError("fcntl", err)
	}
	if f == nil {
		f = os.NewFile(uintptr(parent), "|"+name)
	}
	return f, child, nil
}

// polled reports whether f is in Go's netpoller (only such a file takes
// a deadline).
func polled(f *os.File) bool {
	return f.SetReadDeadline(time.Time{}) == nil
}

// repoll returns a non-blocking pipe end as a file in Go's netpoller
// (want) or out of it, closing f if it has to be wrapped anew.
//
// The pump wants its pipes out of the netpoller: Linux wakes a pipe's
// epoll waiters at every write, so a flooding child's pipe registered
// there woke a daemon thread parked in the netpoller for every 8 KiB the
// child wrote, though the pump reads it through its own epoll set
// (measured with perf trace on a 256 MB flood: 27,000 epoll_pwait calls
// and 15,000 context switches for 3,400 reads). A reader goroutine (a
// framed stream, or no pump) wants it in, to park on it.
func repoll(f *os.File, want bool) (*os.File, error) {
	if polled(f) == want {
		return f, nil
	}
	fd, err := unix.FcntlInt(uintptr(fileFd(f)), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return f, os.NewSyscallError("fcntl", err)
	}
	f.Close()
	// os.NewFile puts a non-blocking descriptor in the netpoller, and
	// leaves a blocking one out.
	if err := unix.SetNonblock(fd, want); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	nf := os.NewFile(uintptr(fd), f.Name())
	if !want {
		if err := unix.SetNonblock(fd, true); err != nil {
			nf.Close()
			return nil, os.NewSyscallError("fcntl", err)
		}
	}
	return nf, nil
}

func (pp *pipes) childFiles() []uintptr {
	errW := pp.stderrW
	if errW < 0 {
		errW = pp.stdoutW
	}
	return []uintptr{uintptr(pp.stdinR), uintptr(pp.stdoutW), uintptr(errW)}
}

func (pp *pipes) closeChildEnds() {
	for _, fd := range []*int{&pp.stdinR, &pp.stdoutW, &pp.stderrW} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

func (pp *pipes) closeParentEnds() {
	for _, f := range []*os.File{pp.stdinW, pp.stdoutR, pp.stderrR} {
		if f != nil {
			f.Close()
		}
	}
}

// captureLocked starts copying the child's output to its logs.
func (p *process) captureLocked(pp *pipes) {
	p.outR, p.errR = pp.stdoutR, pp.stderrR
	src := Event{Process: p.spec.Name, Group: p.spec.Group, Pid: p.pid}
	ls := p.spec.Stdout
	var pl *pool
	if p.spec.Listener != nil && p.pool != nil {
		// A listener's stdout is the protocol: it is still logged, but it
		// raises no PROCESS_LOG/COMMUNICATION events.
		ls.EventsEnabled, ls.CaptureMaxBytes = false, 0
		pl = p.pool
		p.listener = pl.attach(p.spec.Name, pp.stdinW)
	}
	outLines := p.framerLocked(p.stdout, ls, "stdout", &p.drops[0])
	if outLines != nil && p.resumePartial[0] != nil {
		outLines.putPartial(p.resumePartial[0])
	}
	sink := p.e.outputSink(src, p.stdout, ls, "stdout", &p.drops[0], outLines)
	if pl != nil {
		logSink, l := sink, p.listener
		sink = func(chunk []byte) {
			logSink(chunk)
			pl.feed(l, chunk)
		}
	}
	var outDirect *directLog
	if pl == nil {
		outDirect = p.directLocked(p.stdout, ls, "stdout", &p.drops[0])
	}
	p.outR = p.e.capture(pp.stdoutR, p.readyLogSink(sink), "stdout of "+src.Process, outLines, outDirect)
	if pp.stderrR != nil {
		errLines := p.framerLocked(p.stderr, p.spec.Stderr, "stderr", &p.drops[1])
		if errLines != nil && p.resumePartial[1] != nil {
			errLines.putPartial(p.resumePartial[1])
		}
		p.errR = p.e.capture(pp.stderrR, p.readyLogSink(p.e.outputSink(src, p.stderr, p.spec.Stderr, "stderr", &p.drops[1], errLines)),
			"stderr of "+src.Process, errLines, p.directLocked(p.stderr, p.spec.Stderr, "stderr", &p.drops[1]))
	}
}

// spliceLogs turns the splice(2) path of the log pump on. It is off: on
// this VM it measured no gain over the copy path (logs_ab.py: 181-283 MB/s
// spliced against 211-303 MB/s copied, cat 247-469), because the pump's
// cost is its wake-ups, not the pipe-to-user copy splice saves, and the
// copy into fresh page-cache pages is the same on both paths. Splicing
// also writes at an fstat offset instead of O_APPEND (see SpliceFrom).
// The path is correct, full disk included (logfile and engine tests), so
// a machine where it pays can turn it on here.
const spliceLogs = false

// directLocked returns how the pump may splice one stream of the child
// straight into its log file (see directLog), or nil when something
// always needs its bytes in user space: capture mode, syslog, a
// log_prefix, a ready log pattern, the daemon's debug echo, or a log that
// is not a regular file. PROCESS_LOG events and a second writer of the
// same file can come and go, so they are asked chunk by chunk.
func (p *process) directLocked(dst *logfile.File, ls LogSpec, channel string, drops *logDrops) *directLog {
	if !spliceLogs {
		return nil
	}
	if dst == nil || dst.PassThrough() || ls.CaptureMaxBytes > 0 || ls.Syslog || p.spec.LogPrefix != "" ||
		p.spec.Ready != nil && p.spec.Ready.Log != "" || p.e.log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	typ := EventProcessLogStdout
	if channel == "stderr" {
		typ = EventProcessLogStderr
	}
	events, bus, writers := ls.EventsEnabled, &p.e.bus, p.e.logWriters(dst.Path())
	what := channel + " log of " + p.spec.Name
	return &directLog{
		dst:     dst,
		needed:  func() bool { return writers.Load() > 1 || events && bus.wants(typ) },
		written: func(err error) { p.e.logWritten(err, 0, what, drops) },
	}
}

// framerLocked returns the line framer of one stream's log, or nil when
// its output is copied as it comes: only a log_prefix or a log on tend's
// own stdout/stderr (shared by every program writing there) needs whole
// lines.
func (p *process) framerLocked(dst *logfile.File, ls LogSpec, stream string, drops *logDrops) *lineWriter {
	if dst == nil || p.spec.LogPrefix == "" && ls.Path != "/dev/stdout" && ls.Path != "/dev/stderr" {
		return nil
	}
	what := stream + " log of " + p.spec.Name
	return newLineWriter(p.spec.LogPrefix, stream, p.e.clock, func(b []byte) { p.e.writeLog(dst, b, what, drops) })
}

// capture hands a pipe's read end to the pump, or to a goroutine of its
// own if the pump is unavailable. Either way it is closed at EOF, once the
// child and any grandchild holding the pipe have exited; sinks never take
// Engine.mu.
//
// A framed stream (lines not nil) always gets a goroutine: its writes may
// block on a reader of tend's stdout, and must then hold up only that
// stream, whose child in turn blocks writing to its full pipe.
//
// It returns the file that now reads the pipe: r, or r wrapped anew (see
// repoll), which r's holder must keep instead.
func (e *Engine) capture(r *os.File, sink func([]byte), what string, lines *lineWriter, direct *directLog) *os.File {
	if e.pump != nil && lines == nil {
		nr, err := repoll(r, false)
		if err == nil {
			r = nr
			err = e.pump.add(r, sink, nil, direct)
		}
		if err == nil {
			return r
		}
		e.log.Warn("pump " + what + ": " + err.Error())
		if nr == nil {
			return nil
		}
	}
	if nr, err := repoll(r, true); err != nil {
		e.log.Error("read " + what + ": " + err.Error())
		if nr == nil {
			return nil
		}
	} else {
		r = nr
	}
	var fc *framedCapture
	if lines != nil {
		e.framed.Add(1)
		fc = e.framedCaps.add(r, lines)
	}
	go func() {
		defer r.Close()
		if lines != nil {
			defer e.framed.Done()
			defer e.framedCaps.remove(r)
		}
		for {
			err := logfile.Capture(r, sink)
			if fc != nil && errors.Is(err, os.ErrDeadlineExceeded) && fc.park() {
				continue // parked for a re-exec that did not happen
			}
			if err != nil {
				e.log.Error("read " + what + ": " + err.Error())
			}
			break
		}
		if lines != nil {
			lines.close() // the last, unfinished line
		}
	}()
	return r
}

// outputSink returns what happens to each chunk a child writes on one
// channel: capture-mode scanning, the log file, the debug echo and the
// PROCESS_LOG event. drops counts what the log file could not take.
func (e *Engine) outputSink(src Event, dst *logfile.File, ls LogSpec, channel string, drops *logDrops, lines *lineWriter) func([]byte) {
	name, group, pid := src.Process, src.Group, src.Pid
	debug := e.log.Enabled(context.Background(), slog.LevelDebug)
	typ, commTyp := EventProcessLogStdout, EventProcessCommStdout
	if channel == "stderr" {
		typ, commTyp = EventProcessLogStderr, EventProcessCommStderr
	}
	events, toSyslog := ls.EventsEnabled, ls.Syslog
	var comm *commScanner
	if ls.CaptureMaxBytes > 0 {
		comm = &commScanner{max: int(ls.CaptureMaxBytes)}
	}
	return func(chunk []byte) {
		if comm != nil {
			var payloads [][]byte
			chunk, payloads = comm.feed(chunk)
			for _, data := range payloads {
				e.bus.Publish(Event{Type: commTyp, Time: e.clock.Now(), Process: name, Group: group, Pid: pid, Data: data})
			}
			if len(chunk) == 0 {
				return
			}
		}
		switch {
		case lines != nil:
			lines.feed(chunk)
		case dst != nil:
			e.writeLog(dst, chunk, channel+" log of "+name, drops)
		}
		if toSyslog {
			// Reported when the connection fails, not for every chunk
			// dropped while it is down.
			if err := e.syslog.WriteLines(name, chunk); err != nil && !errors.Is(err, logfile.ErrSyslogPaused) {
				e.log.Error(channel + " of " + name + ": " + err.Error())
			}
		}
		if debug {
			e.log.Debug("'" + name + "' " + channel + " output:\n" + string(chunk))
		}
		if events {
			e.bus.Publish(Event{Type: typ, Time: e.clock.Now(), Process: name, Group: group, Pid: pid,
				Data: append([]byte(nil), chunk...)})
		}
	}
}

// writeLog writes one chunk to a process's log file. A failure is logged
// at a limited rate (a full disk fails every chunk), and what it dropped is
// counted for /metrics; the file itself writes a marker line once writing
// works again.
func (e *Engine) writeLog(dst *logfile.File, chunk []byte, what string, drops *logDrops) {
	n, err := dst.Write(chunk)
	e.logWritten(err, len(chunk)-n, what, drops)
}

// logWritten accounts for one write (or splice) to a log: err is its
// error, lost the bytes it dropped.
func (e *Engine) logWritten(err error, lost int, what string, drops *logDrops) {
	if err == nil {
		if msg := drops.ok(what); msg != "" {
			e.log.Info(msg)
		}
		return
	}
	if msg := drops.failed(e.clock.Now(), what, err, lost); msg != "" {
		e.log.Error(msg)
	}
}

// outputPipeSize is the kernel buffer asked for a child's output pipes
// (the default is 64 KiB). A chatty child then fills a bigger buffer per
// wake-up of the capture goroutine, which is what lets logging keep pace
// with a plain cat > file. The kernel allocates the pages only when they
// fill, so idle children cost nothing extra. 1 MiB is a sharp optimum
// here (logs_ab.py, 7 reps each against 1 MiB, ratio to cat > file):
// 256 KiB 0.36, 512 KiB 0.70, 2 MiB 0.15, 4 MiB 0.14. Above 1 MiB it is
// the writer that slows down: the pump then finds ~64 KB per 1 ms wake-up
// (perf trace), so a bigger pipe for a flooding child does not pay.
const outputPipeSize = 1 << 20

// growPipe enlarges a pipe's buffer; failure (a per-user pipe memory limit)
// only costs throughput, so it is ignored.
func growPipe(fd int) {
	unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, outputPipeSize)
}
