package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// markerKey is the environment variable that marks every process of a
// run: the harness sets it on each daemon it starts, and children inherit
// it, so the harness can find (and at the end kill) everything the run
// spawned, and nothing else.
const markerKey = "TEND_SOAK_RUN"

// Harness owns one run: the tend binary, a temp root holding every
// daemon's folder, the daemons it started and the tmpfs it mounted.
type Harness struct {
	bin    string // the tend binary
	self   string // this program, re-executed as the log writer child
	root   string // temp folder of the run
	mark   string // value of markerKey for this run
	log    io.Writer
	report *Report

	mu      sync.Mutex
	daemons []*Daemon
	mounts  []string
	cleaned bool
}

// newHarness creates the run's temp root. bin is a tend binary, or "" to
// build one from the module that holds the working directory.
func newHarness(ctx context.Context, bin string, log io.Writer) (*Harness, error) {
	root, err := os.MkdirTemp("", "tend-soak-")
	if err != nil {
		return nil, fmt.Errorf("temp root: %w", err)
	}
	var mark [8]byte
	rand.Read(mark[:])
	h := &Harness{root: root, mark: hex.EncodeToString(mark[:]), log: log, report: &Report{root: root}}
	if h.self, err = os.Executable(); err != nil {
		h.Cleanup()
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	if bin == "" {
		if bin, err = buildTend(ctx, root); err != nil {
			h.Cleanup()
			return nil, err
		}
	}
	h.bin = bin
	return h, nil
}

// buildTend builds ./cmd/tend of the enclosing module into dir.
func buildTend(ctx context.Context, dir string) (string, error) {
	mod, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tend")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tend")
	cmd.Dir = mod
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tend: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the folder with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the tend repo or pass -tend")
		}
		dir = parent
	}
}

// logf prints a progress line.
func (h *Harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// dir makes a fresh folder under the run's root.
func (h *Harness) dir(name string) (string, error) {
	d, err := os.MkdirTemp(h.root, name+"-")
	if err != nil {
		return "", fmt.Errorf("folder for %s: %w", name, err)
	}
	return d, nil
}

// mountTmpfs mounts a tmpfs of size bytes at dir (root only).
func (h *Harness) mountTmpfs(dir string, size int64) error {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	h.mu.Lock()
	h.mounts = append(h.mounts, dir)
	h.mu.Unlock()
	return nil
}

// killMarked SIGKILLs every live process carrying the run's marker and
// returns how many there were.
func (h *Harness) killMarked() int {
	ps := markedProcesses(markerKey, h.mark)
	for _, p := range ps {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	return len(ps)
}

// Cleanup stops every daemon (SIGTERM, then SIGKILL of its process group),
// kills whatever still carries the marker, unmounts and removes the root.
// It is safe to call more than once and from a signal handler goroutine.
func (h *Harness) Cleanup() {
	h.mu.Lock()
	if h.cleaned {
		h.mu.Unlock()
		return
	}
	h.cleaned = true
	daemons := append([]*Daemon(nil), h.daemons...)
	mounts := append([]string(nil), h.mounts...)
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range daemons {
		wg.Add(1)
		go func() { defer wg.Done(); d.Stop(5 * time.Second) }()
	}
	wg.Wait()
	// Children a killed daemon left behind, writers, hooks' grandchildren.
	for i := 0; i < 10 && h.killMarked() > 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range mounts {
		if err := syscall.Unmount(m, 0); err != nil {
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	os.RemoveAll(h.root)
}

// lockedBuffer is a bytes buffer safe for the daemon's output goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 4<<20 { // the daemon's own log is the record; keep a head
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) reset() {
	l.mu.Lock()
	l.b.Reset()
	l.mu.Unlock()
}
