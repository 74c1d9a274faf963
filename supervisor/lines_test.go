package supervisor

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// writes records each call of a lineWriter's write.
type writes struct {
	mu    sync.Mutex
	calls []string
}

func (w *writes) write(b []byte) {
	w.mu.Lock()
	w.calls = append(w.calls, string(b))
	w.mu.Unlock()
}

func (w *writes) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// TestLineWriter: whole lines only, each prefixed (stream and time filled
// in), one write per chunk's worth of lines; long lines split with a
// marker; an unfinished line written after partialWait (not before) and
// at close.
func TestLineWriter(t *testing.T) {
	clock := testkit.NewFakeClock()
	var w writes
	lw := newLineWriter("web "+PrefixStream+" "+PrefixTime+" | ", "stderr", clock, w.write)
	now := clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	p := "web stderr " + now + " | "

	lw.feed([]byte("one\ntw"))
	lw.feed([]byte("o\nthree\nfo"))
	if got, want := w.all(), []string{p + "one\n", p + "two\n" + p + "three\n"}; !equalStrings(got, want) {
		t.Fatalf("writes %q, want %q", got, want)
	}
	clock.Advance(partialWait - time.Nanosecond)
	if n := len(w.all()); n != 2 {
		t.Fatalf("the partial line was written before partialWait: %q", w.all())
	}
	clock.Advance(time.Nanosecond)
	p = "web stderr " + clock.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " | " // the time of the write
	if got := w.all(); len(got) != 3 || got[2] != p+"fo\n" {
		t.Fatalf("partial line not flushed at partialWait: %q", got)
	}

	long := strings.Repeat("x", maxLine) + strings.Repeat("y", 10)
	lw.feed([]byte(long + "\nend"))
	got := w.all()
	if want := p + strings.Repeat("x", maxLine) + lineContinues + "\n" + p + strings.Repeat("y", 10) + "\n"; got[3] != want {
		t.Fatalf("long line written as %d bytes %.80q…, want split with the marker", len(got[3]), got[3])
	}
	lw.close()
	if got := w.all(); len(got) != 5 || got[4] != p+"end\n" {
		t.Fatalf("close did not flush the last line: %q", got)
	}
	if pending := clock.Pending(); len(pending) != 0 {
		t.Errorf("timers left after close: %v", pending)
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
