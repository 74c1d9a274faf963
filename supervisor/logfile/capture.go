package logfile

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// CaptureBufSize is the size of Capture's read buffers: 64 KiB, a default
// pipe's capacity. Larger reads measured no faster (the copy falls out of
// cache), and a buffer is only held while data is being copied.
const CaptureBufSize = 64 << 10

// errFileClosing is the text of internal/poll.ErrFileClosing, which
// RawConn.Read returns for a closed file instead of os.ErrClosed.
const errFileClosing = "use of closed file"

// bufPool holds Capture's read buffers, shared by all captures so that idle
// children hold none.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, CaptureBufSize)
	return &b
}}

// Capture copies everything readable from src (the read end of a child's
// pipe, an *os.File from os.Pipe, which Go puts in non-blocking mode) to
// onChunk until EOF, and then returns nil. Each read is one chunk (one log
// write, as in supervisord); onChunk's slice is valid only during the call.
//
// No buffer is held while waiting: Capture waits for readability through the
// runtime poller (src.SyscallConn), takes a 64 KiB buffer from a shared pool
// only once data is there, and returns it after onChunk. With a blocking
// descriptor (not from os.Pipe) the wait happens inside read(2), holding a
// buffer.
//
// Capture returns a wrapped read error, or os.ErrClosed (wrapped) if src is
// closed meanwhile. It does not close src.
func Capture(src *os.File, onChunk func([]byte)) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return fmt.Errorf("capture %s: %w", src.Name(), err)
	}
	var (
		buf  *[]byte
		n    int
		rerr error
	)
	read := func(fd uintptr) bool {
		b := bufPool.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			bufPool.Put(b)
			return false // wait for readability without a buffer
		}
		buf = b
		return true
	}
	for {
		buf, n, rerr = nil, 0, nil
		err := rc.Read(read)
		if err != nil {
			if buf != nil {
				bufPool.Put(buf)
			}
			if err.Error() == errFileClosing {
				err = os.ErrClosed
			}
			return fmt.Errorf("capture %s: %w", src.Name(), err)
		}
		if rerr != nil || n <= 0 {
			bufPool.Put(buf)
			if rerr != nil {
				return fmt.Errorf("capture %s: %w", src.Name(), rerr)
			}
			return nil // EOF
		}
		onChunk((*buf)[:n])
		bufPool.Put(buf)
	}
}
