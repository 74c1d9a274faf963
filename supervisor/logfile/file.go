package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrNoFile reports that there is no log file to read: the log is a
// pass-through (such as /dev/stdout) or the file does not exist. It maps to
// supervisord's NO_FILE fault.
var ErrNoFile = errors.New("no log file")

// ErrBadArguments reports an invalid offset/length combination for Read. It
// maps to supervisord's BAD_ARGUMENTS fault.
var ErrBadArguments = errors.New("bad arguments")

// stdLocks serialise whole-chunk writes to the daemon's own stdout (0) and
// stderr (1): several Files (one per child channel) may pass through to the
// same stream, and supervisord, being single-threaded, never interleaves two
// chunks.
var stdLocks [2]sync.Mutex

// File is an append-only log file with supervisord's rotation rules. Safe
// for concurrent use.
//
// The size used for the rotation check is tracked in memory (initialised
// from the file's size when it is opened), so a Write costs one write(2).
type File struct {
	path     string
	maxBytes int64
	backups  int
	mode     os.FileMode

	mu       sync.Mutex
	fp       *os.File // nil after a failed reopen (retried on the next Write) or Close
	size     int64
	pass     bool        // pass-through: never rotate, never read
	std      *sync.Mutex // non-nil for /dev/stdout and /dev/stderr
	readable bool        // fp was opened O_RDWR, so reads can use it
	closed   bool
	changed  chan struct{} // nil until someone calls Changed

	// gen counts the files f has written to (rotation, Clear and Reopen
	// start a new one); renamedGen is the gen that began with the previous
	// file renamed to .1, for ReadSince.
	gen, renamedGen uint64

	// lost counts what failed writes dropped since the last write that
	// succeeded (disk full), for the marker line written when writing
	// resumes; midLine says the last byte written was not a newline.
	lost    lost
	midLine bool

	// Splicing (SpliceFrom): appendOff says the descriptor's O_APPEND is
	// cleared (splice(2) refuses it), noSplice that the file system cannot
	// splice, and midUnknown that spliced bytes left midLine unknown.
	appendOff, noSplice, midUnknown bool
}

// lost is output a File could not write.
type lost struct {
	bytes, lines int64
	err          error // the first failure
}

// Open opens (creating, mode 0644, append) path. maxBytes 0 = never rotate;
// backups 0 with maxBytes>0 = truncate in place when size >= maxBytes.
//
// path "/dev/stdout" or "/dev/stderr" (or any non-regular file like a
// pipe/tty) = pass-through: writes go straight to it, never rotate, never
// seek/stat-size; reads return ErrNoFile. "/dev/stdout" and "/dev/stderr"
// use a duplicate of the daemon's own descriptor 1 or 2 rather than opening
// the device, so they work when those are sockets (journald). Opening a FIFO
// blocks until it has a reader, as in supervisord.
//
// Negative maxBytes or backups count as 0.
func Open(path string, maxBytes int64, backups int) (*File, error) {
	return OpenMode(path, maxBytes, backups, 0o644)
}

// OpenMode is Open with an explicit file mode (AUTO child logs are 0600).
// The mode (less the umask) applies when the file is created, including
// the fresh file created by each rotation.
func OpenMode(path string, maxBytes int64, backups int, mode os.FileMode) (*File, error) {
	f := &File{path: path, maxBytes: max(maxBytes, 0), backups: max(backups, 0), mode: mode.Perm(), gen: 1}
	switch path {
	case "/dev/stdout", "/dev/stderr":
		fd := 1
		if path == "/dev/stderr" {
			fd = 2
		}
		fp, err := dupStd(fd, path)
		if err != nil {
			return nil, err
		}
		f.fp, f.pass, f.std = fp, true, &stdLocks[fd-1]
		return f, nil
	}
	if err := f.openLocked(0); err != nil {
		return nil, err
	}
	return f, nil
}

// dupStd returns a close-on-exec duplicate of the daemon's descriptor fd, so
// that closing the File leaves the daemon's stdout/stderr open.
func dupStd(fd int, name string) (*os.File, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, fmt.Errorf("open %s: dup fd %d: %w", name, fd, errno)
	}
	return os.NewFile(nfd, name), nil
}

// openLocked (re)opens f.path for appending, adding extra to the open flags
// (os.O_TRUNC for rotation and Clear). An existing non-regular file makes f
// a pass-through.
func (f *File) openLocked(extra int) error {
	if st, err := os.Stat(f.path); err == nil && !st.Mode().IsRegular() {
		// Write-only: a FIFO then reports EPIPE when its reader goes
		// away instead of filling up forever.
		fp, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", f.path, err)
		}
		f.fp, f.pass, f.readable, f.size, f.appendOff = fp, true, false, 0, false
		return nil
	}
	readable := true
	fp, err := os.OpenFile(f.path, os.O_RDWR|os.O_APPEND|os.O_CREATE|extra, f.mode)
	if errors.Is(err, fs.ErrPermission) {
		// A write-only file: reads go through the path instead.
		readable = false
		fp, err = os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|extra, f.mode)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", f.path, err)
	}
	st, err := fp.Stat()
	if err != nil {
		fp.Close()
		return fmt.Errorf("open %s: %w", f.path, err)
	}
	if !st.Mode().IsRegular() { // raced with a mkfifo/mknod
		readable = false
		f.pass = true
	}
	f.fp, f.readable, f.size, f.appendOff = fp, readable, st.Size(), false
	if f.pass {
		f.size = 0
	}
	return nil
}

// Release closes the descriptor of a log on a regular file until the next
// Write (or rotation, Clear, Reopen) opens it again; reads go through the
// path meanwhile. A daemon with thousands of quiet children then holds no
// descriptor for their logs, which exist all the same (Open created
// them). A pass-through keeps its descriptor: reopening a FIFO would
// block.
func (f *File) Release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.pass || f.fp == nil {
		return nil
	}
	err := f.fp.Close()
	f.fp = nil
	if err != nil {
		return fmt.Errorf("release %s: %w", f.path, err)
	}
	return nil
}

// Path returns the path the File was opened with.
func (f *File) Path() string { return f.path }

// PassThrough reports whether f passes writes through to a non-regular file
// (stdout, stderr, a FIFO, a tty): such a File never rotates and cannot be
// read back.
func (f *File) PassThrough() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pass
}

// Size returns the current file size: bytes in the file when it was opened
// plus bytes written since, reset by rotation and Clear. It is 0 for a
// pass-through.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

// Write appends p as one chunk, THEN, if the size has reached maxBytes,
// rotates: close, rename .N-1->.N ... file->.1 (the oldest beyond backups
// is dropped), reopen empty. With backups=0 the file is truncated in
// place instead. Rotated files therefore exceed maxBytes by up to one chunk,
// as in supervisord. Bytes are never lost, duplicated or reordered by a
// rotation.
//
// If p was written but the rotation failed, Write returns len(p) and the
// error; the rotation is retried after the next Write. Callers must not
// write p again.
//
// What a failed write could not write (the disk is full) is dropped and
// counted; the first Write that succeeds afterwards is preceded by one
// line saying how much was lost: "[tend: 39250 lines (2048000 bytes)
// dropped while the disk was full]".
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("write %s: %w", f.path, os.ErrClosed)
	}
	if f.fp == nil {
		if err := f.openLocked(0); err != nil {
			f.loseLocked(p, err)
			return 0, fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	if err := f.restoreAppendLocked(); err != nil {
		f.loseLocked(p, err)
		return 0, err
	}
	if f.lost.bytes > 0 {
		if err := f.writeMarkerLocked(); err != nil {
			f.loseLocked(p, err)
			return 0, fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	n, err := f.rawWriteLocked(p)
	if err != nil {
		f.loseLocked(p[n:], err)
		return n, fmt.Errorf("write %s: %w", f.path, err)
	}
	if !f.pass && f.maxBytes > 0 && f.size >= f.maxBytes {
		if err := f.rotateLocked(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// rawWriteLocked writes b to the open file and accounts for it.
func (f *File) rawWriteLocked(b []byte) (int, error) {
	var n int
	var err error
	if f.std != nil {
		f.std.Lock()
		n, err = f.fp.Write(b)
		f.std.Unlock()
	} else {
		n, err = f.fp.Write(b)
	}
	f.notifyLocked()
	if n > 0 {
		f.midLine, f.midUnknown = b[n-1] != '\n', false
	}
	if !f.pass {
		f.size += int64(n)
	}
	return n, err
}

// loseLocked counts b as dropped by a failed write.
func (f *File) loseLocked(b []byte, err error) {
	if len(b) == 0 {
		return
	}
	if f.lost.bytes == 0 {
		f.lost.err = err
	}
	f.lost.bytes += int64(len(b))
	f.lost.lines += int64(bytes.Count(b, []byte{'\n'}))
}

// writeMarkerLocked writes the line that says what was dropped, on a line
// of its own. If only part of it could be written, that part stays, the
// chunk that was to follow is counted as dropped, and a whole marker is
// written at the next success.
func (f *File) writeMarkerLocked() error {
	why := "while the disk was full"
	if !errors.Is(f.lost.err, syscall.ENOSPC) && !errors.Is(f.lost.err, syscall.EDQUOT) {
		why = "because the log could not be written (" + errText(f.lost.err) + ")"
	}
	marker := fmt.Sprintf("[tend: %d lines (%d bytes) dropped %s]\n", f.lost.lines, f.lost.bytes, why)
	if f.midUnknown {
		f.midLine, f.midUnknown = f.endsMidLineLocked(), false
	}
	if f.midLine {
		marker = "\n" + marker
	}
	if _, err := f.rawWriteLocked([]byte(marker)); err != nil {
		return err
	}
	f.lost = lost{}
	return nil
}

// errText is the innermost message of err ("no space left on device").
func errText(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// rotateLocked shifts the backups and starts a fresh, empty file (with
// backups=0: truncates the file in place). On a rename failure it keeps
// writing to the current file (nothing is truncated) and reports the error.
func (f *File) rotateLocked() error {
	if f.backups == 0 {
		return f.truncateLocked("rotate")
	}
	for _, i := range f.backupsToShift() {
		if _, err := shift(f.path+"."+strconv.Itoa(i), f.path+"."+strconv.Itoa(i+1)); err != nil {
			return fmt.Errorf("rotate %s: %w", f.path, err)
		}
	}
	// A missing current file (removed by a clean-up script) is not an
	// error, as in supervisord.
	renamed, err := shift(f.path, f.path+".1")
	if err != nil {
		return fmt.Errorf("rotate %s: %w", f.path, err)
	}
	f.gen++
	if renamed {
		f.renamedGen = f.gen
	}
	var cerr error
	if f.fp != nil {
		cerr = f.fp.Close()
		f.fp = nil
	}
	f.notifyLocked()
	if err := f.openLocked(os.O_TRUNC); err != nil {
		f.size = 0
		return fmt.Errorf("rotate %s: %w", f.path, err)
	}
	if cerr != nil {
		return fmt.Errorf("rotate %s: close: %w", f.path, cerr)
	}
	return nil
}

// listBackupsOver is the backup count above which rotation lists the
// directory once instead of probing every slot: with backups=1000, probing
// costs a thousand failed lstat calls per rotation.
const listBackupsOver = 32

// backupsToShift returns, highest first, the backup numbers 1..backups-1
// that rotation must try to shift up by one: all of them, as supervisord
// does, or with many backups only those the directory holds.
func (f *File) backupsToShift() []int {
	var idx []int
	if f.backups > listBackupsOver {
		entries, err := os.ReadDir(filepath.Dir(f.path))
		if err == nil {
			prefix := filepath.Base(f.path) + "."
			for _, e := range entries {
				rest, ok := strings.CutPrefix(e.Name(), prefix)
				if !ok {
					continue
				}
				if i, err := strconv.Atoi(rest); err == nil && i >= 1 && i < f.backups && strconv.Itoa(i) == rest {
					idx = append(idx, i)
				}
			}
			slices.Sort(idx)
			slices.Reverse(idx)
			return idx
		}
	}
	for i := f.backups - 1; i > 0; i-- {
		idx = append(idx, i)
	}
	return idx
}

// shift renames src to dst if src exists, removing dst first as
// supervisord does, and reports whether it renamed. Removing first also
// matters for speed: ext4 flushes a file synchronously when a rename
// replaces another file (auto_da_alloc), which halves write throughput for
// 100 MB logs.
func shift(src, dst string) (bool, error) {
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// truncateLocked empties the file at f.path: in place through the open
// descriptor if it still is the file at the path (cheaper than a reopen,
// whose close makes ext4 flush the file), otherwise by (re)opening the path
// with O_TRUNC, which creates it if it was moved away.
func (f *File) truncateLocked(op string) error {
	f.notifyLocked()
	f.gen++
	if f.fp != nil {
		fst, err1 := f.fp.Stat()
		pst, err2 := os.Stat(f.path)
		if err1 == nil && err2 == nil && os.SameFile(fst, pst) && f.fp.Truncate(0) == nil {
			f.size = 0
			return nil
		}
	}
	var cerr error
	if f.fp != nil {
		cerr = f.fp.Close()
		f.fp = nil
	}
	if err := f.openLocked(os.O_TRUNC); err != nil {
		f.size = 0
		return fmt.Errorf("%s %s: %w", op, f.path, err)
	}
	if cerr != nil {
		return fmt.Errorf("%s %s: close: %w", op, f.path, cerr)
	}
	return nil
}

// Reopen closes and reopens the same path for appending (SIGUSR2, or after
// logrotate moved the file away: a new file is created). The size is
// re-read from the reopened file. A pass-through is left as it is.
func (f *File) Reopen() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("reopen %s: %w", f.path, os.ErrClosed)
	}
	if f.pass {
		return nil
	}
	var cerr error
	var old os.FileInfo
	if f.fp != nil {
		old, _ = f.fp.Stat()
		cerr = f.fp.Close()
		f.fp = nil
	}
	f.notifyLocked()
	err := f.openLocked(0)
	if err == nil && old != nil {
		if cur, err := f.fp.Stat(); err == nil && os.SameFile(old, cur) {
			// The same file: followers go on where they were.
		} else {
			f.gen++
		}
	} else {
		f.gen++
	}
	if err != nil {
		return fmt.Errorf("reopen %s: %w", f.path, err)
	}
	if cerr != nil {
		return fmt.Errorf("reopen %s: close: %w", f.path, cerr)
	}
	return nil
}

// Clear truncates the current file to 0 bytes, keeping rotated backups, as
// supervisord's clearProcessLogs/clearLog. If the file was moved away, an
// empty file is created at the path and used from then on. Clearing a
// pass-through does nothing; clearing a closed File returns os.ErrClosed
// (see ClearPath).
func (f *File) Clear() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("clear %s: %w", f.path, os.ErrClosed)
	}
	if f.pass {
		return nil
	}
	return f.truncateLocked("clear")
}

// ClearPath truncates the regular file at path to 0 bytes (for a log that
// is not open). A missing or non-regular file is left alone.
func ClearPath(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clear %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	if err := os.Truncate(path, 0); err != nil {
		return fmt.Errorf("clear %s: %w", path, err)
	}
	return nil
}

// Close closes the file. Further writes fail with os.ErrClosed; Read and
// Tail then read the file through its path. Closing twice is a no-op.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.notifyLocked()
	if f.fp == nil {
		return nil
	}
	err := f.fp.Close()
	f.fp = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	return nil
}

// Changed returns a channel closed at the next Write, rotation, Clear,
// Reopen or Close (for tail -f without polling). After Close it returns a
// closed channel. Cheap when nobody calls it: Write only checks a nil
// field.
func (f *File) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c := make(chan struct{})
		close(c)
		return c
	}
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

func (f *File) notifyLocked() {
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}
