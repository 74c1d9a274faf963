package logfile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNoSplice reports that SpliceFrom moved nothing and the caller must
// copy the bytes through user space with Write instead: the File is a
// pass-through, closed or cannot be reopened, owes a dropped-output
// marker, needs a rotation retried, or its file system cannot splice.
// Write then does what it always does (including counting what a full disk
// drops), after which splicing may work again.
var ErrNoSplice = errors.New("cannot splice into this log now")

// SpliceFrom moves up to max bytes from the pipe src (a non-blocking read
// end) into the file with splice(2), without copying them through user
// space, and rotates as Write does: after the call that makes the file
// reach maxBytes, supervisord's rule. One call is one chunk, as one Write
// is, so with max no larger than the reader's buffer a rotated file
// exceeds maxBytes by no more than it would through Write; and a child
// writing whole lines never has a line cut across two files, which
// splicing only the bytes left before maxBytes would do (neither
// supervisord nor Write ever splits a chunk).
//
// It returns the bytes moved; 0 and io.EOF when every writer of the pipe
// is gone and it is empty; 0 and unix.EAGAIN when the pipe is empty;
// 0 and ErrNoSplice when the caller must use Write for what the pipe
// holds (see ErrNoSplice). A released File (Release) is opened again. After bytes were moved, a non-nil error is a
// failed rotation, retried as after Write.
//
// splice(2) refuses a file opened O_APPEND, so the descriptor loses
// O_APPEND while splicing (Write puts it back) and each call writes at the
// file's current end, read with fstat: like O_APPEND, it follows a file
// truncated by copytruncate, but unlike it the two steps are not one, so
// a second process appending to the same file at the same instant could
// overwrite. The daemon's own writers to one file never race: the caller
// splices only when it is the file's only writer.
func (f *File) SpliceFrom(src int, max int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.pass || f.noSplice || f.lost.bytes > 0 {
		return 0, ErrNoSplice
	}
	if f.fp == nil {
		// Released (or a reopen failed): open it again; if that fails,
		// Write tries too and counts what is lost.
		if err := f.openLocked(0); err != nil || f.pass {
			return 0, ErrNoSplice
		}
	}
	if f.maxBytes > 0 && f.size >= f.maxBytes {
		return 0, ErrNoSplice // a rotation failed: Write retries it
	}
	fd := int(f.fp.Fd())
	if !f.appendOff {
		if err := setAppend(fd, false); err != nil {
			f.noSplice = true
			return 0, ErrNoSplice
		}
		f.appendOff = true
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, ErrNoSplice
	}
	off := st.Size
	n, err := unix.Splice(src, nil, fd, &off, max, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	for errors.Is(err, unix.EINTR) {
		n, err = unix.Splice(src, nil, fd, &off, max, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	}
	switch {
	case n > 0:
	case errors.Is(err, unix.EAGAIN):
		return 0, unix.EAGAIN
	case err == nil:
		return 0, io.EOF
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		// This file system (or kernel) cannot splice into the file.
		f.noSplice = true
		return 0, ErrNoSplice
	default:
		// ENOSPC and the like: the bytes are still in the pipe, and Write
		// drops and counts them as it does for any failed write. On a
		// disk filling up, splice(2) first moves what fits (a short
		// count: nothing to account), then fails with ENOSPC having
		// taken nothing from the pipe (seen on Linux 6.18, tmpfs and
		// ext4; TestSpliceDiskFullMarker).
		return 0, ErrNoSplice
	}
	f.size += n
	f.midUnknown = true
	f.notifyLocked()
	if f.maxBytes > 0 && f.size >= f.maxBytes {
		if err := f.rotateLocked(); err != nil {
			return int(n), err
		}
	}
	return int(n), nil
}

// setAppend sets or clears O_APPEND on fd.
func setAppend(fd int, on bool) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_APPEND
	} else {
		fl &^= unix.O_APPEND
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}

// restoreAppendLocked gives the descriptor O_APPEND back before a write
// through Write, after splicing cleared it.
func (f *File) restoreAppendLocked() error {
	if !f.appendOff || f.fp == nil {
		return nil
	}
	if err := setAppend(int(f.fp.Fd()), true); err != nil {
		return fmt.Errorf("write %s: restore O_APPEND: %w", f.path, err)
	}
	f.appendOff = false
	return nil
}

// endsMidLineLocked reports whether the file's last byte is not a
// newline, after splicing made it unknown: it reads that byte back.
func (f *File) endsMidLineLocked() bool {
	if f.size == 0 {
		return false
	}
	fp := f.fp
	if fp == nil || !f.readable {
		var err error
		if fp, err = os.Open(f.path); err != nil {
			return true // a newline too many is better than a marker glued to a line
		}
		defer fp.Close()
	}
	st, err := fp.Stat()
	if err != nil || st.Size() == 0 {
		return err != nil
	}
	var b [1]byte
	if _, err := fp.ReadAt(b[:], st.Size()-1); err != nil {
		return true
	}
	return b[0] != '\n'
}
