package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The state file records which processes the engine is running, so that
// an engine started after this one was killed (kill -9, OOM killer) can
// find the children it left behind: see Engine.Recover.

// stateVersion is the format version of the state file.
const stateVersion = 1

// stateFlushDelay is the least time between two rewrites of the state
// file: a change after a quiet spell is written at once, and every change
// made while a write is due waits for the next one, so a flapping program
// or a thousand programs starting together cost at most one write per
// delay. A child spawned in the window before its write reaches the disk
// is missing from the file if the daemon dies then (and would run twice);
// writing at once after a quiet spell keeps that window to the write's own
// time for the common case of one start.
const stateFlushDelay = 100 * time.Millisecond

// stateFlushCost stretches the delay for large files: it is at least this
// many times the last write's duration, which caps the writes at 2% of a
// core (1000 processes make a 130 KB file that takes 5 ms to write, so
// one flapping program among them causes a write every 250 ms).
const stateFlushCost = 50

// stateFlushMaxGap caps that stretch: a write slowed by a busy disk (time
// spent waiting, not computing) must not leave the file a long time behind.
const stateFlushMaxGap = time.Second

// stateFile is the content of the state file.
type stateFile struct {
	Version int    `json:"version"`
	BootID  string `json:"boot_id"` // start times only compare within a boot
	Pid     int    `json:"pid"`     // the daemon's own pid and start time
	Start   uint64 `json:"start_time"`
	// Processes lists every process with a pid, in start order.
	Processes []stateProcess `json:"processes"`
}

// stateProcess records one running child and how to stop it.
type stateProcess struct {
	Name        string   `json:"name"` // namespec
	Pid         int      `json:"pid"`
	Pgid        int      `json:"pgid"`
	Start       uint64   `json:"start_time"` // /proc/PID/stat field 22
	Command     []string `json:"command"`
	StopSignal  string   `json:"stopsignal"`
	StopWait    float64  `json:"stopwaitsecs"`
	StopAsGroup bool     `json:"stopasgroup,omitempty"`
	KillAsGroup bool     `json:"killasgroup,omitempty"`
}

// stateWriter rewrites the state file, coalescing changes.
type stateWriter struct {
	path   string
	header stateFile // Version, BootID, Pid, Start

	pending   bool      // a flush is scheduled; guarded by Engine.mu
	lastFlush time.Time // when the last flush began; guarded by Engine.mu

	cost atomic.Int64 // duration of the last write, in nanoseconds

	mu     sync.Mutex // serializes writes
	writes int        // files written, for tests and measurements
	failed bool       // the last write failed (logged once until one succeeds)
	closed bool       // removed at shutdown: a late flush must not recreate it
}

func newStateWriter(path string) *stateWriter {
	w := &stateWriter{path: path}
	if path == "" {
		return w
	}
	w.header = stateFile{Version: stateVersion, BootID: bootID(), Pid: os.Getpid()}
	if st, err := readProcStat(os.Getpid()); err == nil {
		w.header.Start = st.Start
	}
	return w
}

// stateChangedLocked schedules a rewrite of the state file after a spawn,
// an exit or an adoption. Cheap when one is already scheduled.
func (e *Engine) stateChangedLocked() {
	w := e.state
	if w.path == "" || w.pending || e.shuttingDown {
		return
	}
	w.pending = true
	gap := min(stateFlushMaxGap, max(stateFlushDelay, stateFlushCost*time.Duration(w.cost.Load())))
	wait := max(0, gap-time.Since(w.lastFlush)) // 0 after a quiet spell: write now
	time.AfterFunc(wait, e.flushState)
}

// flushState writes the state file from a snapshot of the running set.
func (e *Engine) flushState() {
	e.mu.Lock()
	e.state.pending = false
	e.state.lastFlush = time.Now()
	if e.shuttingDown {
		e.mu.Unlock()
		return
	}
	snap := e.stateSnapshotLocked()
	e.mu.Unlock()
	if err := e.state.write(snap); err != nil {
		e.log.Error("state file: " + err.Error())
	}
}

func (e *Engine) stateSnapshotLocked() stateFile {
	s := e.state.header
	var procs []*process
	for _, p := range e.orderedLocked() {
		// A roll's peer comes after its instance: Recover adopts the
		// first run of a name and stops the others.
		procs = append(procs, p)
		if p.peer != nil {
			procs = append(procs, p.peer)
		}
	}
	for _, p := range procs {
		if p.pid == 0 || p.startTicks == 0 {
			continue
		}
		sig := p.spec.StopSignal
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		s.Processes = append(s.Processes, stateProcess{
			Name: p.spec.Namespec(), Pid: p.pid, Pgid: p.pid, Start: p.startTicks,
			Command: slices.Clone(p.spec.Command), StopSignal: SignalName(sig),
			StopWait: p.spec.StopWait.Seconds(), StopAsGroup: p.spec.StopAsGroup, KillAsGroup: p.spec.KillAsGroup,
		})
	}
	return s
}

// write replaces the state file atomically: a reader sees the old file or
// the new one, never a mix. Of failures in a row, only the first is
// returned (and so logged). It does not fsync: the file only has to
// survive the daemon's death, and the page cache survives that; after a
// power loss the processes are gone too (and the boot id differs), so a
// file lost or truncated by the crash costs nothing (a corrupt one is
// reported and ignored).
func (w *stateWriter) write(s stateFile) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	began := time.Now()
	err := w.replace(s)
	w.cost.Store(int64(time.Since(began)))
	first := err != nil && !w.failed
	w.failed = err != nil
	if first {
		return err
	}
	return nil
}

func (w *stateWriter) replace(s stateFile) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	tmp := w.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, w.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.writes++
	return nil
}

// remove deletes the state file after a clean shutdown: nothing is left
// running for a later engine to find.
func (w *stateWriter) remove() error {
	if w.path == "" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// readStateFile reads a state file; a missing file gives a zero stateFile
// and no error.
func readStateFile(path string) (stateFile, error) {
	var s stateFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read state file: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return stateFile{}, fmt.Errorf("state file %s is corrupt, ignoring it: %w", path, err)
	}
	if s.Version != stateVersion {
		return stateFile{}, fmt.Errorf("state file %s has version %d, want %d; ignoring it", path, s.Version, stateVersion)
	}
	return s, nil
}
