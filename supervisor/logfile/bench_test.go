package logfile

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

const benchChunk = 64 << 10

// BenchmarkWriteRotating writes 64 KiB chunks to a File rotating at 100 MB.
func BenchmarkWriteRotating(b *testing.B) {
	f, err := Open(filepath.Join(b.TempDir(), "bench.log"), 100<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	for b.Loop() {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainFileWrite is the baseline: 64 KiB chunks appended to an
// *os.File, truncated every 100 MB so that the file stays the same size as
// BenchmarkWriteRotating's.
func BenchmarkPlainFileWrite(b *testing.B) {
	fp, err := os.OpenFile(filepath.Join(b.TempDir(), "plain.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer fp.Close()
	chunk := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	var size int64
	for b.Loop() {
		n, err := fp.Write(chunk)
		if err != nil {
			b.Fatal(err)
		}
		if size += int64(n); size >= 100<<20 {
			fp.Truncate(0)
			size = 0
		}
	}
}

const captureTotal = 64 << 20

// BenchmarkCapture: a child writes 64 MiB through a pipe, captured into a
// rotating File (as the engine does), against io.Copy into a plain file
// (which splices on Linux) and a cat-like read/write loop.
func BenchmarkCapture(b *testing.B) {
	script := `dd if=/dev/zero bs=65536 count=` + strconv.Itoa(captureTotal/65536) + ` status=none`
	b.Run("File", func(b *testing.B) {
		f, err := Open(filepath.Join(b.TempDir(), "cap.log"), 100<<20, 1)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(captureTotal)
		for b.Loop() {
			r, cmd := startChild(b, script)
			var n int64
			var werr error
			err := Capture(r, func(p []byte) {
				m, err := f.Write(p)
				n += int64(m)
				if err != nil {
					werr = err
				}
			})
			r.Close()
			cmd.Wait()
			if err != nil || werr != nil || n != captureTotal {
				b.Fatalf("captured %d: %v %v", n, err, werr)
			}
		}
	})
	b.Run("IOCopy", func(b *testing.B) {
		fp, err := os.OpenFile(filepath.Join(b.TempDir(), "copy.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer fp.Close()
		b.SetBytes(captureTotal)
		for b.Loop() {
			fp.Truncate(0)
			r, cmd := startChild(b, script)
			n, err := io.Copy(fp, r)
			r.Close()
			cmd.Wait()
			if err != nil || n != captureTotal {
				b.Fatalf("copied %d: %v", n, err)
			}
		}
	})
	b.Run("ReadWriteLoop", func(b *testing.B) {
		fp, err := os.OpenFile(filepath.Join(b.TempDir(), "rw.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer fp.Close()
		buf := make([]byte, 128<<10) // cat's buffer size
		b.SetBytes(captureTotal)
		for b.Loop() {
			fp.Truncate(0)
			r, cmd := startChild(b, script)
			var n int64
			for {
				m, err := r.Read(buf)
				if m > 0 {
					if _, err := fp.Write(buf[:m]); err != nil {
						b.Fatal(err)
					}
					n += int64(m)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
			cmd.Wait()
			if n != captureTotal {
				b.Fatalf("copied %d", n)
			}
		}
	})
}
