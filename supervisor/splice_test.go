package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// numbered is what numberedScript writes: bursts of numbered lines.
func numbered(bursts, per int) string {
	var b strings.Builder
	for i := 1; i <= bursts*per; i++ {
		fmt.Fprintf(&b, "line %09d\n", i)
	}
	return b.String()
}

// numberedScript writes bursts of per numbered lines, pausing pause
// between bursts so that the pump sees many chunks.
func numberedScript(bursts, per int, pause string) []string {
	return sh(fmt.Sprintf(`i=0; while [ $i -lt %d ]; do seq -f 'line %%09g' $((i*%d+1)) $((i*%d+%d)); sleep %s; i=$((i+1)); done`,
		bursts, per, per, per, pause))
}

// keptLog concatenates a log's backups, oldest first, and the current file.
func keptLog(t *testing.T, path string) (string, []int) {
	t.Helper()
	var all bytes.Buffer
	var sizes []int
	for i := 1000; i >= 0; i-- {
		name := path
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			sizes = append(sizes, len(b))
		}
		all.Write(b)
	}
	return all.String(), sizes
}

// Issue 16: a child's output reaches its log through many rotations with
// no byte lost, repeated or reordered, whether the pump splices it, copies
// it through user space (PROCESS_LOG events have a subscriber), or switches
// between the two while the child writes (a second writer of the file
// comes and goes). Either way a rotated file holds at least maxbytes and
// at most one chunk more (the check follows the write, as in supervisord).
func TestSpliceRotationNoLoss(t *testing.T) {
	if !spliceLogs {
		t.Skip("the splice path is off (spliceLogs)")
	}
	const bursts, per, maxBytes = 60, 1500, 64 << 10
	want := numbered(bursts, per)
	for _, tc := range []struct {
		name          string
		events, flip  bool
		splice, copy_ bool // which paths must have moved bytes
	}{
		{name: "splice", splice: true},
		{name: "copy", events: true, copy_: true},
		{name: "switching", flip: true, splice: true, copy_: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.e.pump == nil {
				t.Skip("no epoll pump")
			}
			s := h.spec("num", numberedScript(bursts, per, "0.002")...)
			s.StartSecs = 0
			s.AutoRestart = RestartNever
			s.Stdout.Path = h.file("num.log")
			s.Stdout.MaxBytes = maxBytes
			s.Stdout.Backups = 100
			s.Stdout.EventsEnabled = tc.events
			spliced0, copied0 := h.e.pump.spliced.Load(), h.e.pump.copied.Load()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if tc.flip {
				h.e.mu.Lock()
				users := h.e.logWriters(s.Stdout.Path)
				h.e.mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						case <-time.After(3 * time.Millisecond):
						}
						users.Add(1)
						time.Sleep(3 * time.Millisecond)
						users.Add(-1)
					}
				}()
			}
			h.update(s)
			h.waitFor("the whole output logged", 30*time.Second, func() bool {
				got, _ := keptLog(t, s.Stdout.Path)
				return len(got) >= len(want)
			})
			close(stop)
			wg.Wait()
			got, sizes := keptLog(t, s.Stdout.Path)
			if got != want {
				t.Fatalf("kept logs differ from the output (%d bytes, want %d): first difference at byte %d",
					len(got), len(want), firstDiff(got, want))
			}
			if len(sizes) < 10 {
				t.Errorf("%d rotations, want many", len(sizes))
			}
			spliced, copied := h.e.pump.spliced.Load()-spliced0, h.e.pump.copied.Load()-copied0
			if tc.splice != (spliced > 0) || tc.copy_ != (copied > 0) {
				t.Errorf("spliced %d bytes and copied %d, want splice %v copy %v", spliced, copied, tc.splice, tc.copy_)
			}
			for i, n := range sizes {
				if n < maxBytes || n > maxBytes+pumpBufSize {
					t.Fatalf("backup %d of %d holds %d bytes: a rotated file holds at least maxbytes (%d) and at most one chunk more",
						len(sizes)-i, len(sizes), n, maxBytes)
				}
			}
		})
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Issue 16: on a full disk the spliced path behaves as the copying one
// (issue 11): what could not be written is dropped and counted, and once
// the disk has room one marker line says how much; the log is then the
// output with exactly that many bytes missing at the marker, nothing else
// lost, repeated or reordered.
func TestSpliceDiskFull(t *testing.T) {
	if !spliceLogs {
		t.Skip("the splice path is off (spliceLogs)")
	}
	for _, events := range []bool{false, true} {
		t.Run(fmt.Sprintf("events=%v", events), func(t *testing.T) {
			dir := testkit.MountTmpfs(t, "4M")
			h := newHarness(t)
			const bursts, per = 400, 200
			want := numbered(bursts, per)
			s := h.spec("full", numberedScript(bursts, per, "0.005")...)
			s.StartSecs = 0
			s.AutoRestart = RestartNever
			s.Stdout.Path = filepath.Join(dir, "full.log")
			s.Stdout.MaxBytes = 0
			s.Stdout.EventsEnabled = events
			if h.e.pump == nil {
				t.Skip("no epoll pump")
			}
			spliced := h.e.pump.spliced.Load()
			h.update(s)
			h.waitFor("output logged", 10*time.Second, func() bool {
				st, err := os.Stat(s.Stdout.Path)
				return err == nil && st.Size() > 20000
			})
			if got := h.e.pump.spliced.Load() - spliced; (got > 0) == events {
				t.Fatalf("spliced %d bytes before the disk filled: want splicing exactly when no PROCESS_LOG event needs the bytes", got)
			}
			free := testkit.FillDisk(t, dir)
			h.waitFor("writes failing", 10*time.Second, func() bool { return h.e.procs["full"].drops[0].total.Load() > 0 })
			spliced = h.e.pump.spliced.Load()
			free()
			h.waitState("full", Exited, 60*time.Second)
			h.waitFor("the last line logged", 10*time.Second, func() bool {
				b, _ := os.ReadFile(s.Stdout.Path)
				return bytes.HasSuffix(b, []byte(fmt.Sprintf("line %09d\n", bursts*per)))
			})
			checkMarked(t, readFile(t, s.Stdout.Path), want)
			if got := h.e.pump.spliced.Load() - spliced; !events && got == 0 {
				t.Error("nothing spliced once the disk had room again: after the marker, splicing must resume")
			}
		})
	}
}

// checkMarked checks that got is want with one stretch replaced by a
// "[tend: L lines (B bytes) dropped while the disk was full]" line that
// gives that stretch's size (after a newline of its own when the
// stretch began mid-line).
func checkMarked(t *testing.T, got, want string) {
	t.Helper()
	if strings.Count(got, "[tend:") != 1 {
		t.Fatalf("want one marker, log has %d", strings.Count(got, "[tend:"))
	}
	i := strings.Index(got, "[tend: ")
	end := i + strings.IndexByte(got[i:], '\n') + 1
	var lines, lost int
	if _, err := fmt.Sscanf(got[i:end], "[tend: %d lines (%d bytes) dropped while the disk was full]\n", &lines, &lost); err != nil {
		t.Fatalf("marker %q: %v", got[i:end], err)
	}
	before, after := got[:i], got[end:]
	if !strings.HasPrefix(want, before) {
		// The marker's own newline, after a line cut short.
		before = strings.TrimSuffix(before, "\n")
		if !strings.HasPrefix(want, before) || strings.HasSuffix(before, "\n") {
			t.Fatalf("the log before the marker is not the start of the output (differs at byte %d)", firstDiff(before, want))
		}
	}
	if rest := want[len(before):]; len(rest) < lost || rest[lost:] != after {
		t.Fatalf("before the marker %d bytes, marker says %d lost, then %d bytes: not the output with that stretch cut (want %d bytes in all)",
			len(before), lost, len(after), len(want))
	}
	if n := strings.Count(want[len(before):len(before)+lost], "\n"); n != lines {
		t.Errorf("marker says %d lines, the cut stretch has %d newlines", lines, n)
	}
}
