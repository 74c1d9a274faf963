package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// writerProgram is a program that runs this binary as the log writer.
func (h *Harness) writerProgram(name, mode, env, logOpts string) string {
	return fmt.Sprintf(`program %q { command = { %q }, environment = { %s = %q, %s },
  startsecs = 0, autorestart = false, %s }
`, name, h.self, childEnv, mode, env, logOpts)
}

// logsScenario has a child write LogBytes of numbered lines through
// rotation and checks that the backups and the current file, in order,
// are exactly the end of what was written.
func logsScenario(ctx context.Context, r *run) {
	dir, err := r.dir("logs")
	if err != nil {
		r.errFig("folder", err)
		return
	}
	logPath := filepath.Join(dir, "writer.log")
	body := r.writerProgram("writer", "writer", fmt.Sprintf("SOAK_BYTES = %q", strconv.FormatInt(r.cfg.LogBytes, 10)),
		fmt.Sprintf("stdout_logfile = %q, stdout_logfile_maxbytes = %d, stdout_logfile_backups = %d",
			logPath, r.cfg.LogMaxBytes, r.cfg.LogBackups))
	t0 := time.Now()
	d, err := r.startDaemon(ctx, "logs", daemonOpts{body: body})
	if err != nil {
		r.errFig("start daemon", err)
		return
	}
	timeout := time.Minute + time.Duration(r.cfg.LogBytes/(10<<20))*time.Second
	ps, err := d.waitStates(ctx, timeout, func(p procInfo) bool { return p.StateName == "EXITED" || p.StateName == "FATAL" })
	if err != nil {
		r.errFig("writer done", err)
		return
	}
	dt := time.Since(t0)
	written := r.cfg.LogBytes / lineLen * lineLen
	r.fig("written", fmt.Sprintf("%s in %s (%.0f MB/s), %d rotations of %s", mb(written), dt.Round(time.Millisecond),
		float64(written)/(1<<20)/dt.Seconds(), written/r.cfg.LogMaxBytes, mb(r.cfg.LogMaxBytes)), ps[0].StateName == "EXITED")
	files := []string{}
	for i := r.cfg.LogBackups; i >= 1; i-- {
		p := fmt.Sprintf("%s.%d", logPath, i)
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	files = append(files, logPath)
	retained, err := verifyStream(files, written)
	r.fig("backups+current vs written", fmt.Sprintf("%d files, %s retained: %s", len(files), mb(retained), errOr(err, "byte-identical")), err == nil)
	wantFiles := min(int(written/r.cfg.LogMaxBytes), r.cfg.LogBackups) + 1
	r.fig("files retained", fmt.Sprintf("%d (want %d)", len(files), wantFiles), len(files) == wantFiles)
}

func errOr(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// verifyStream checks that files, concatenated, are the last bytes of the
// written stream of numbered lines; it returns their total size.
func verifyStream(files []string, written int64) (int64, error) {
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	if total > written {
		return total, fmt.Errorf("%d bytes retained, more than the %d written (duplication)", total, written)
	}
	off := written - total
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return total, err
		}
		n, err := compareStream(bufio.NewReaderSize(fh, 1<<20), off)
		fh.Close()
		if err != nil {
			return total, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		off += n
	}
	return total, nil
}

// compareStream compares rd with the stream from offset off and returns
// how many bytes it read.
func compareStream(rd io.Reader, off int64) (int64, error) {
	buf := make([]byte, 1<<16)
	var n int64
	for {
		k, err := rd.Read(buf)
		for i := 0; i < k; {
			pos := off + n + int64(i)
			line := streamLine(pos / lineLen)
			want := line[pos%lineLen:]
			got := buf[i:min(k, i+len(want))]
			if !bytes.Equal(got, want[:len(got)]) {
				return n, fmt.Errorf("differs at stream offset %d (line %d): got %q, want %q", pos, pos/lineLen, got, want[:len(got)])
			}
			i += len(got)
		}
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
