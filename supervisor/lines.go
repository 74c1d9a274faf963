package supervisor

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Line framing for logs shared by several programs (the container's
// stdout): output is cut into whole lines, each given the program's
// log_prefix, and written whole, so that lines of different programs never
// mix inside a line. A pipe framed this way is read by a goroutine of its
// own rather than by the pump, so a stdout nobody reads blocks only the
// programs writing to it, each in its own write to its pipe (back-pressure,
// never a drop), while the pump keeps serving every other log and exit.
const (
	// maxLine is the longest piece of a line written at once; a longer line
	// is split into pieces, each but the last ending with lineContinues.
	maxLine = 16 << 10
	// partialWait is how long an unfinished last line may wait for the
	// rest before it is written (ended with a newline) on its own.
	partialWait = time.Second
	// lineContinues ends every piece of a split line but the last.
	lineContinues = " [tend: line continues]"
)

// Placeholders of log_prefix that change per stream or per line; the
// loader expands the others (%(program_name)s …) and keeps these.
const (
	PrefixStream = "%(stream)s"
	PrefixTime   = "%(time)s"
)

// lineWriter frames one output stream into whole prefixed lines and hands
// them to write, a batch of whole lines per call.
type lineWriter struct {
	prefix []string // the prefix split at each PrefixTime
	clock  Clock
	write  func([]byte)

	mu      sync.Mutex
	partial []byte
	stop    func() bool // the pending partial-line timer
	gen     uint64      // invalidates a timer that fired late
	out     []byte      // reused batch buffer
}

// newLineWriter returns a framer for the stream named stream ("stdout")
// with the log_prefix template prefix.
func newLineWriter(prefix, stream string, clock Clock, write func([]byte)) *lineWriter {
	prefix = strings.ReplaceAll(prefix, PrefixStream, stream)
	return &lineWriter{prefix: strings.Split(prefix, PrefixTime), clock: clock, write: write}
}

// appendPrefix appends the prefix, with the time where it asks for it.
func (w *lineWriter) appendPrefix(b []byte) []byte {
	b = append(b, w.prefix[0]...)
	if len(w.prefix) > 1 {
		now := w.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		for _, p := range w.prefix[1:] {
			b = append(b, now...)
			b = append(b, p...)
		}
	}
	return b
}

// appendLine appends one whole line (without its newline), split into
// pieces of at most maxLine bytes.
func (w *lineWriter) appendLine(b, line []byte) []byte {
	for len(line) > maxLine {
		b = w.appendPrefix(b)
		b = append(b, line[:maxLine]...)
		b = append(b, lineContinues+"\n"...)
		line = line[maxLine:]
	}
	b = w.appendPrefix(b)
	b = append(b, line...)
	return append(b, '\n')
}

// feed takes a chunk of output: every line it completes is written, in one
// call; what is left waits for the rest, for partialWait at most.
//
// The wait for the rest counts from the end of the write: a write held up
// by a slow reader of stdout must not make the line look abandoned.
func (w *lineWriter) feed(chunk []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disarmLocked()
	out := w.out[:0]
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			w.partial = append(w.partial, chunk...)
			break
		}
		if len(w.partial) > 0 {
			w.partial = append(w.partial, chunk[:i]...)
			out = w.appendLine(out, w.partial)
			w.partial = w.partial[:0]
		} else {
			out = w.appendLine(out, chunk[:i])
		}
		chunk = chunk[i+1:]
	}
	// An unfinished line longer than a piece goes out in whole pieces now.
	for len(w.partial) > maxLine {
		out = w.appendPrefix(out)
		out = append(out, w.partial[:maxLine]...)
		out = append(out, lineContinues+"\n"...)
		w.partial = append(w.partial[:0], w.partial[maxLine:]...)
	}
	if len(out) > 0 {
		w.write(out)
	}
	w.out = out[:0]
	w.armLocked()
}

// disarmLocked stops the partial-line timer; one that already fired and
// waits for mu finds gen changed and does nothing.
func (w *lineWriter) disarmLocked() {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	w.gen++
}

// armLocked starts the partial-line timer when a partial line waits.
func (w *lineWriter) armLocked() {
	if len(w.partial) == 0 {
		return
	}
	gen := w.gen
	w.stop = w.clock.AfterFunc(partialWait, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.gen == gen {
			w.stop = nil
			w.gen++
			w.flushLocked()
		}
	})
}

// flushLocked writes the partial line, if any, ended with a newline.
func (w *lineWriter) flushLocked() {
	if len(w.partial) == 0 {
		return
	}
	out := w.appendLine(nil, w.partial)
	w.partial = w.partial[:0]
	w.write(out)
}

// close writes what is left (the stream ended) and stops the timer.
func (w *lineWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disarmLocked()
	w.flushLocked()
}
