package logfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Read implements supervisord readProcessLog/readLog semantics on the
// CURRENT file (not its backups):
//
//   - offset>=0, length>=0: bytes [offset, offset+length), length 0 = to
//     the end; offsets past the end give empty data;
//   - offset<0 and length==0: the last -offset bytes (the whole file if it
//     is shorter);
//   - offset<0 with length!=0, or length<0: ErrBadArguments.
//
// A pass-through returns ErrNoFile. After Close, or if the file was opened
// write-only, the file is read through its path (see ReadPath).
func (f *File) Read(offset, length int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pass {
		return nil, fmt.Errorf("read %s: %w", f.path, ErrNoFile)
	}
	if f.fp == nil || !f.readable {
		return ReadPath(f.path, offset, length)
	}
	return readFile(f.fp, offset, length)
}

// Tail implements supervisord tailProcessLog on the CURRENT file. It
// returns (data, newOffset, overflow): newOffset is always the file size,
// for the next call.
//
// The arithmetic is supervisord's tailFile, kept exactly: with size sz,
//
//   - offset >= sz: no data (nothing new, or the file shrank);
//   - offset + length == sz: the bytes [offset, sz);
//   - offset + length > sz, offset < sz: the last length bytes (the whole
//     file if shorter), which may start before offset;
//   - offset + length < sz: the last length bytes, overflow=true (bytes
//     between offset and the returned data were skipped).
//
// A pass-through returns ErrNoFile. After Close, or if the file was opened
// write-only, the file is read through its path (see TailPath).
func (f *File) Tail(offset, length int64) (data []byte, newOffset int64, overflow bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pass {
		return nil, 0, false, fmt.Errorf("tail %s: %w", f.path, ErrNoFile)
	}
	if f.fp == nil || !f.readable {
		return TailPath(f.path, offset, length)
	}
	return tailFile(f.fp, offset, length)
}

// ReadPath is Read on a path that is not open (a stopped process's log
// file). A missing or non-regular file (pipe, tty) gives ErrNoFile; other
// failures (supervisord's FAILED) are returned wrapped.
func ReadPath(path string, offset, length int64) ([]byte, error) {
	fp, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer fp.Close()
	return readFile(fp, offset, length)
}

// TailPath is Tail on a path that is not open. A missing or non-regular
// file gives (nil, 0, false, nil), as supervisord's tailProcessLog returns
// an empty string, 0 and False; other failures are returned wrapped.
func TailPath(path string, offset, length int64) ([]byte, int64, bool, error) {
	fp, err := openRegular(path)
	if errors.Is(err, ErrNoFile) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("tail %s: %w", path, err)
	}
	defer fp.Close()
	return tailFile(fp, offset, length)
}

// openRegular opens path for reading if it is a regular file, without
// blocking on FIFOs; otherwise it returns ErrNoFile.
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !st.Mode().IsRegular() {
		return nil, ErrNoFile
	}
	if err != nil {
		return nil, err
	}
	fp, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoFile
	}
	return fp, err
}

// limit keeps offset/length arithmetic far from int64 overflow.
const limit = 1 << 61

func clamp(v int64) int64 { return min(max(v, -limit), limit) }

// readFile is supervisord's readFile on an open file.
func readFile(fp *os.File, offset, length int64) ([]byte, error) {
	if offset < 0 && length != 0 || offset >= 0 && length < 0 {
		return nil, fmt.Errorf("read %s: %w", fp.Name(), ErrBadArguments)
	}
	offset, length = clamp(offset), clamp(length)
	st, err := fp.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fp.Name(), err)
	}
	sz := st.Size()
	var pos, n int64
	if offset < 0 {
		pos = max(sz+offset, 0)
		n = sz - pos
	} else {
		pos = offset
		n = max(sz-pos, 0)
		if length > 0 {
			n = min(n, length)
		}
	}
	return readAt(fp, pos, n)
}

// tailFile is supervisord's tailFile on an open file.
func tailFile(fp *os.File, offset, length int64) ([]byte, int64, bool, error) {
	offset, length = clamp(offset), clamp(length)
	st, err := fp.Stat()
	if err != nil {
		return nil, offset, false, fmt.Errorf("tail %s: %w", fp.Name(), err)
	}
	sz := st.Size()
	overflow := false
	if sz > offset+length {
		overflow = true
		offset = sz - 1
	}
	if offset+length > sz {
		if offset > sz-1 {
			length = 0
		}
		offset = sz - length
	}
	offset = max(offset, 0)
	length = max(length, 0)
	data, err := readAt(fp, offset, min(length, max(sz-offset, 0)))
	if err != nil {
		return nil, offset, false, err
	}
	return data, sz, overflow, nil
}

// readAt reads up to n bytes at pos; a file that shrank meanwhile gives
// fewer.
func readAt(fp *os.File, pos, n int64) ([]byte, error) {
	if n <= 0 {
		return []byte{}, nil
	}
	buf := make([]byte, n)
	m, err := fp.ReadAt(buf, pos)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", fp.Name(), err)
	}
	return buf[:m], nil
}

// Cursor marks how far a follower (tail -f) has read a File; see
// ReadSince. The zero Cursor means nothing has been read yet.
type Cursor struct {
	gen uint64
	off int64
}

// ReadSince returns the bytes written to f after cursor c and the cursor
// for the next call, atomically with respect to writes, rotations and
// Clear, so that a follower woken by Changed neither skips nor repeats
// bytes:
//
//   - the zero Cursor gives the current file's last max bytes (its first
//     screen);
//   - after exactly one rotation since c (backups > 0), the rest of the
//     rotated file (now .1) followed by the new file;
//   - after more rotations, a Clear, a Reopen, or a shrunken file, the
//     current file from its start.
//
// At most the last max bytes are returned (max <= 0: no limit); skipped
// bytes are simply not returned. After Close the file is read through its
// path. A pass-through returns ErrNoFile.
func (f *File) ReadSince(c Cursor, max int64) ([]byte, Cursor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pass {
		return nil, c, fmt.Errorf("read %s: %w", f.path, ErrNoFile)
	}
	fp := f.fp
	if fp == nil || !f.readable {
		var err error
		if fp, err = openRegular(f.path); err != nil {
			return nil, c, fmt.Errorf("read %s: %w", f.path, err)
		}
		defer fp.Close()
	}
	st, err := fp.Stat()
	if err != nil {
		return nil, c, fmt.Errorf("read %s: %w", f.path, err)
	}
	sz := st.Size()
	next := Cursor{gen: f.gen, off: sz}
	limit := func(avail int64) int64 { // bytes to skip
		if max > 0 && avail > max {
			return avail - max
		}
		return 0
	}
	switch {
	case c.gen == f.gen && c.off <= sz:
		start := c.off + limit(sz-c.off)
		data, err := readAt(fp, start, sz-start)
		return data, next, err
	case c.gen != 0 && c.gen+1 == f.gen && f.renamedGen == f.gen:
		// The file c points into is now .1.
		var old []byte
		if skip := limit(sz); skip == 0 {
			if ofp, err := openRegular(f.path + ".1"); err == nil {
				ost, err := ofp.Stat()
				if err == nil && c.off < ost.Size() {
					start := c.off + limit(ost.Size()-c.off+sz)
					old, err = readAt(ofp, start, ost.Size()-start)
				}
				ofp.Close()
				if err != nil {
					return nil, c, err
				}
			}
		}
		start := limit(sz)
		data, err := readAt(fp, start, sz-start)
		if err != nil {
			return nil, c, err
		}
		if len(old) > 0 {
			data = append(old, data...)
		}
		return data, next, nil
	default:
		start := limit(sz)
		data, err := readAt(fp, start, sz-start)
		return data, next, err
	}
}
