package supervisor

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// pumpBufSize is the pump's read size: supervisord's (it reads 2<<16 bytes
// at a time), so a rotated log exceeds maxbytes by no more than under
// supervisord; larger reads measured slower (the copy leaves the cache).
// pumpBurst is how many bytes one ready pipe may give per wake-up: a child
// writing as fast as it can is read until its pipe is empty, with no
// epoll_wait between reads (the writer refills the pipe while we copy),
// yet it cannot starve the others.
//
// After a wake-up that moved at least pumpBatchMin bytes, the pump waits
// pumpBatchDelay before polling again. A child writing continuously then
// fills up to a pipe's worth per wake-up instead of waking the daemon for
// every write: measured with perf stat on a 256 MB flood, a fifth of the
// reads and 40% less daemon CPU (0.34 s instead of 0.56 s), left to the
// child on a machine where they share the cores. Quiet
// children never trigger it (their lines are smaller), and the price is at
// most pumpBatchDelay of extra latency for output, or an exit, that comes
// in right after a flood.
const (
	pumpBufSize    = 128 << 10
	pumpBurst      = 4 << 20
	pumpBatchMin   = 16 << 10
	pumpBatchDelay = time.Millisecond
)

// pipeEvents is how a pipe is watched. EPOLLONESHOT disarms a pipe once
// it is reported, until the pump has serviced it and comes back to poll
// (rearmAll). A Linux pipe wakes its epoll waiters at every write, and the
// pump's epoll set sits in Go's netpoller, so an armed pipe that is being
// read, or left to fill during pumpBatchDelay, woke a daemon thread parked
// in the netpoller for every write of a flooding child, to find nothing
// to do. Measured with perf stat on a 256 MB flood (pipes already out of
// the netpoller, see repoll): 20,000-41,000 epoll_pwait calls and 9,000-
// 23,000 context switches armed, 1,600-1,900 and 2,900-3,400 disarmed;
// daemon CPU 0.26-0.41 s against 0.16-0.21 s.
const pipeEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// pump copies the output of every child to its log from a single
// goroutine blocked in epoll_wait, so a supervised process costs no
// goroutine and no stack while it is quiet: with thousands of children
// that is megabytes of daemon memory. Like supervisord's single loop, a
// log write that blocks (a passed-through stdout nobody reads) holds up
// the other children's output until it completes.
type pump struct {
	epfd int
	ep   *os.File // epfd, parked on through Go's netpoller
	wake int      // eventfd: closing the pump

	mu   sync.Mutex
	srcs map[int32]*pumpSource
	done chan struct{}

	// spliced and copied count the bytes moved by splice(2) and through
	// user space, for tests.
	spliced, copied atomic.Int64
	// closing tells a wake-up to drain and stop; otherwise a wake-up is a
	// pause request (see pause), answered on paused.
	closing atomic.Bool
	paused  chan chan struct{}

	// rearm lists the pipes serviced since the last poll, disarmed by
	// EPOLLONESHOT until the pump polls again (pump goroutine only).
	rearm []int32
}

type pumpSource struct {
	f    *os.File
	sink func([]byte)
	eof  func()
	// direct, when not nil, lets the pump splice the pipe straight into a
	// log file while nothing needs the bytes in user space.
	direct *directLog
	// ready, for a watched descriptor (a child's pidfd), runs once when it
	// becomes readable; it owns and closes the descriptor.
	ready func()
}

func newPump() (*pump, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	// The pump waits for its epoll set to become readable through Go's own
	// netpoller rather than blocking a thread in epoll_wait: a goroutine
	// parked there costs nothing, while a blocking system call makes the
	// scheduler hand its P over and back at every wake-up, which cost a
	// flooding child a third of its log throughput.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	p := &pump{epfd: epfd, ep: os.NewFile(uintptr(epfd), "pump"), wake: wake,
		srcs: make(map[int32]*pumpSource), done: make(chan struct{}), paused: make(chan chan struct{})}
	rc, err := p.ep.SyscallConn()
	if err != nil {
		p.ep.Close()
		unix.Close(wake)
		return nil, err
	}
	go p.loop(rc)
	return p, nil
}

// directLog is a log file the pump may splice a pipe into instead of
// reading the bytes and handing them to the sink.
type directLog struct {
	dst *logfile.File
	// needed reports whether something needs the bytes in user space right
	// now (a PROCESS_LOG listener subscribed, another writer shares the
	// file); nil means never. It is asked before every splice, so a switch
	// takes effect at the next chunk: both paths take bytes from the head
	// of the same pipe on the pump's one goroutine, in order.
	needed func() bool
	// written reports the outcome of a splice that moved bytes (a failed
	// rotation, or the end of a failure), as the sink does for a write.
	written func(error)
}

// add starts copying from f (a pipe's non-blocking read end, which the
// pump now owns and closes at EOF) to sink; eof runs after the last chunk.
// direct, if not nil, is spliced into when it can be (see directLog).
func (p *pump) add(f *os.File, sink func([]byte), eof func(), direct *directLog) error {
	var fd int
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return err
	}
	p.mu.Lock()
	p.srcs[int32(fd)] = &pumpSource{f: f, sink: sink, eof: eof, direct: direct}
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: pipeEvents, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.srcs, int32(fd))
		p.mu.Unlock()
		return err
	}
	return nil
}

// watch runs ready (on the pump's goroutine) once fd becomes readable.
// A pidfd becomes readable when its process exits, so the exit is handled
// by the thread epoll wakes up, with no signal and no goroutine hand-off
// in between.
func (p *pump) watch(fd int, ready func()) error {
	p.mu.Lock()
	p.srcs[int32(fd)] = &pumpSource{ready: ready}
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.srcs, int32(fd))
		p.mu.Unlock()
		return err
	}
	return nil
}

func (p *pump) loop(rc syscall.RawConn) {
	defer close(p.done)
	buf := make([]byte, pumpBufSize)
	events := make([]unix.EpollEvent, 64)
	stop, pause := false, false
	moved := 0
	// handle services the events of one poll.
	handle := func(evs []unix.EpollEvent) {
		for _, ev := range evs {
			if int(ev.Fd) == p.wake {
				if !p.closing.Load() {
					var b [8]byte
					unix.Read(p.wake, b[:]) // reset the counter
					pause = true
					continue
				}
				p.drainAll(buf)
				stop = true
				return
			}
			moved += p.service(ev.Fd, buf, false)
		}
	}
	for !stop {
		if pause {
			// Parked between two reads: no chunk is half copied, so the
			// pipes hold every byte not yet in a log.
			pause = false
			resume := make(chan struct{})
			p.paused <- resume
			<-resume
		}
		if moved >= pumpBatchMin {
			time.Sleep(pumpBatchDelay)
		}
		moved = 0
		p.rearmAll()
		// The callback runs when the epoll set may have events; returning
		// false parks the goroutine until it becomes readable again.
		err := rc.Read(func(uintptr) bool {
			n, err := unix.EpollWait(p.epfd, events, 0)
			if errors.Is(err, unix.EINTR) {
				return false
			}
			if err != nil || n <= 0 {
				return err != nil
			}
			handle(events[:n])
			return true
		})
		if err != nil {
			return
		}
	}
}

// service reads from a ready source until it would block or its budget is
// spent, retires it at EOF or on a read error, and returns the bytes moved.
func (p *pump) service(fd int32, buf []byte, drain bool) (moved int) {
	p.mu.Lock()
	src := p.srcs[fd]
	p.mu.Unlock()
	if src == nil {
		return moved
	}
	if src.ready != nil {
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
		p.mu.Lock()
		delete(p.srcs, fd)
		p.mu.Unlock()
		if !drain {
			src.ready()
		} else {
			unix.Close(int(fd))
		}
		return moved
	}
	// Draining at shutdown is bounded: a grandchild that outlives its
	// parent may keep writing forever.
	budget := pumpBurst
	if drain {
		budget = 16 * pumpBurst
	}
	moved, open := p.read(fd, src, buf, budget)
	if open && !drain {
		p.rearm = append(p.rearm, fd)
	}
	return moved
}

// read moves up to budget bytes from a pipe to its log, until the pipe is
// empty. It reports the bytes moved and whether the pipe is still open
// (not retired at EOF or on a read error).
func (p *pump) read(fd int32, src *pumpSource, buf []byte, budget int) (moved int, open bool) {
	for budget > 0 {
		if d := src.direct; d != nil && (d.needed == nil || !d.needed()) {
			// One splice moves at most a read's worth, so rotated files
			// overshoot maxbytes by no more than through read.
			n, err := d.dst.SpliceFrom(int(fd), min(budget, len(buf)))
			if n > 0 {
				p.spliced.Add(int64(n))
				d.written(err)
				budget -= n
				moved += n
				continue
			}
			switch {
			case errors.Is(err, unix.EAGAIN):
				return moved, true
			case err == io.EOF:
				p.retire(fd, src)
				return moved, false
			}
			// ErrNoSplice: this chunk goes through user space.
		}
		n, err := unix.Read(int(fd), buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			p.copied.Add(int64(n))
			src.sink(buf[:n])
			budget -= n
			moved += n
			continue // read until the pipe is empty (EAGAIN) or the budget is spent
		}
		if errors.Is(err, unix.EAGAIN) {
			return moved, true
		}
		// EOF: every writer (the child and anything it forked) is gone.
		p.retire(fd, src)
		return moved, false
	}
	return moved, true
}

// rearmAll watches again the pipes serviced since the last poll (see
// pipeEvents). One that holds data is reported by the next poll at once.
func (p *pump) rearmAll() {
	for _, fd := range p.rearm {
		ev := unix.EpollEvent{Events: pipeEvents, Fd: fd}
		// ENOENT: retired meanwhile (drainAll); nothing to watch.
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
	}
	p.rearm = p.rearm[:0]
}

// retire stops watching a pipe at EOF (or after a read error) and closes it.
func (p *pump) retire(fd int32, src *pumpSource) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	p.mu.Lock()
	delete(p.srcs, fd)
	p.mu.Unlock()
	src.f.Close()
	if src.eof != nil {
		src.eof()
	}
}

// drainAll copies what is left in every pipe and closes them all.
func (p *pump) drainAll(buf []byte) {
	p.mu.Lock()
	fds := make([]int32, 0, len(p.srcs))
	for fd := range p.srcs {
		fds = append(fds, fd)
	}
	p.mu.Unlock()
	for _, fd := range fds {
		p.service(fd, buf, true)
		p.mu.Lock()
		src := p.srcs[fd]
		delete(p.srcs, fd)
		p.mu.Unlock()
		if src != nil && src.f != nil {
			src.f.Close()
		}
	}
}

// holds returns the descriptor of f if the pump still reads from it (it
// has not reached EOF and been closed).
func (p *pump) holds(f *os.File) (int, bool) {
	if f == nil {
		return -1, false
	}
	fd := fileFd(f)
	p.mu.Lock()
	defer p.mu.Unlock()
	if src := p.srcs[int32(fd)]; fd >= 0 && src != nil && src.f == f {
		return fd, true
	}
	return -1, false
}

// fileFd returns f's descriptor without putting it in blocking mode (as
// f.Fd would), or -1 once f is closed.
func fileFd(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// pause stops the pump between two reads and returns once it is parked;
// calling the returned resume lets it go on. While it is paused no chunk
// is read, so what the children write stays in their pipes (for a re-exec,
// whose new process reads it). Only one pause at a time.
func (p *pump) pause() (resume func()) {
	unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	r := <-p.paused
	return func() { close(r) }
}

// close stops the pump after copying what the pipes still hold.
func (p *pump) close() {
	p.closing.Store(true)
	unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-p.done
	p.ep.Close()
	unix.Close(p.wake)
}
