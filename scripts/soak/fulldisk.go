package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// fullDiskScenario puts childlogdir on a small tmpfs, fills it while a
// child keeps writing, and checks that the daemon survives and keeps
// answering, that its own log does not fill with the same error, and that
// logging resumes (with a marker line) once space is freed.
func fullDiskScenario(ctx context.Context, r *run) {
	if os.Geteuid() != 0 {
		r.skip("full disk", "mounting a tmpfs needs root; run the harness as root for this scenario")
		return
	}
	dir, err := r.dir("fulldisk")
	if err != nil {
		r.errFig("folder", err)
		return
	}
	const size = 4 << 20
	if err := r.mountTmpfs(dir, size); err != nil {
		r.skip("full disk", err.Error())
		return
	}
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, size-(512<<10)), 0o644); err != nil {
		r.errFig("filler", err)
		return
	}
	body := r.writerProgram("trickle", "trickle", `SOAK_RATE = "1048576"`, `stdout_logfile = "AUTO", stdout_logfile_maxbytes = "100MB"`)
	d, err := r.startDaemon(ctx, "fulldisk", daemonOpts{body: body, childlog: dir})
	if err != nil {
		r.errFig("start daemon", err)
		return
	}
	// Full within half a second at 1 MB/s; then it stays full. Wait until
	// it is: on a loaded machine the child may start late, and a disk that
	// never filled would fail the marker and dropped-bytes figures below
	// for a reason that is not the daemon's.
	t0 := time.Now()
	avail := pollInt(ctx, 30*time.Second, func() int { return int(freeBytes(dir)) }, func(n int) bool { return n == 0 })
	r.fig("tmpfs full before space is freed", fmt.Sprintf("%d bytes free after %s", avail, time.Since(t0).Round(time.Millisecond)), avail == 0)
	if avail != 0 {
		return
	}
	logFile := filepath.Join(d.dir, "tend.log")
	startLog := fileSize(logFile)
	t0 = time.Now()
	var slow []string
	for time.Since(t0) < r.cfg.HookRun+time.Second && ctx.Err() == nil {
		if ans := d.answers(ctx, r.cfg.Bound); ans < 0 {
			slow = append(slow, "no answer")
		}
		time.Sleep(500 * time.Millisecond)
	}
	full := time.Since(t0)
	spam := mainLogSlice(logFile, startLog)
	lines := strings.Count(spam, "\n")
	rate := float64(lines) / full.Seconds()
	r.fig("daemon alive and answering while full", fmt.Sprintf("%d status calls unanswered", len(slow)), len(slow) == 0 && !d.exitedNow())
	r.figD(7, "daemon log lines/s while full", fmt.Sprintf("%.1f (%d lines in %s)", rate, lines, full.Round(time.Millisecond)), rate <= 5)
	// Free the space: logging must resume, with a marker of what was lost.
	os.Remove(filler)
	logs, _ := filepath.Glob(filepath.Join(dir, "trickle*stdout*"))
	if len(logs) == 0 {
		r.fig("child log on the tmpfs", "no trickle*stdout* file in childlogdir", false)
		return
	}
	before := fileSize(logs[0])
	grew := pollInt(ctx, 10*time.Second, func() int { return int(fileSize(logs[0]) - before) }, func(n int) bool { return n > 64<<10 })
	r.fig("child log grows after space freed", fmt.Sprintf("+%d bytes within 10 s", grew), grew > 64<<10)
	b, _ := os.ReadFile(logs[0])
	r.figD(7, "marker line after the gap", firstMatch(string(b), "dropped while the disk was full"), strings.Contains(string(b), "dropped while the disk was full"))
	m, err := d.metrics(ctx)
	r.figD(7, "tend_log_dropped_bytes_total", fmt.Sprintf("%.0f", m["tend_log_dropped_bytes_total"]), err == nil && m["tend_log_dropped_bytes_total"] > 0)
}

// freeBytes is the room left on the file system holding dir (-1 if
// statfs fails).
func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}

// fileSize is the size of path, 0 if it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// mainLogSlice returns the bytes of path from offset on.
func mainLogSlice(path string, off int64) string {
	b, _ := os.ReadFile(path)
	if off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// firstMatch returns the first line of s containing sub, or "absent".
func firstMatch(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return "absent"
}
