package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	RunTrampoline() // the umask tests run this binary as the trampoline
	os.Exit(m.Run())
}

// harness is an engine plus a recorder of its state events.
type harness struct {
	t   *testing.T
	e   *Engine
	dir string

	mu     sync.Mutex
	events []Event
	wake   chan struct{}
}

func newHarness(t *testing.T, cfg ...Config) *harness {
	t.Helper()
	c := Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	dir := t.TempDir()
	if c.ChildLogDir == "" {
		c.ChildLogDir = dir
	}
	if c.Trampoline == nil {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		c.Trampoline = []string{exe, TrampolineArg}
	}
	h := &harness{t: t, dir: dir, wake: make(chan struct{}, 1)}
	h.e = New(c)
	sub := h.e.Subscribe(100000)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case ev := <-sub.C:
				h.mu.Lock()
				h.events = append(h.events, ev)
				h.mu.Unlock()
				select {
				case h.wake <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		h.e.Shutdown(ctx)
		close(done)
		sub.Close()
	})
	return h
}

// spec returns a spec with fast test defaults: startsecs 0.3 s, stopwait 2 s,
// logs in the harness dir.
func (h *harness) spec(name string, argv ...string) Spec {
	s := NewSpec(name, argv...)
	s.StartSecs = 300 * time.Millisecond
	s.StopWait = 2 * time.Second
	return s
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func (h *harness) update(specs ...Spec) {
	h.t.Helper()
	if _, err := h.e.Update(context.Background(), specs); err != nil {
		h.t.Fatalf("Update: %v", err)
	}
}

// states returns the sequence of states name entered.
func (h *harness) states(name string) []State {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []State
	for _, ev := range h.events {
		if ev.Type == EventProcessState && (ev.Process == name || Namespec(ev.Group, ev.Process) == name) {
			out = append(out, ev.To)
		}
	}
	return out
}

func (h *harness) stateEvents(name string) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, ev := range h.events {
		if ev.Type == EventProcessState && ev.Process == name {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func (h *harness) waitFor(what string, d time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-h.wake:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitState waits until name is in state st.
func (h *harness) waitState(name string, st State, d time.Duration) Info {
	h.t.Helper()
	var info Info
	h.waitFor(fmt.Sprintf("%s to be %s", name, st), d, func() bool {
		i, err := h.e.Info(name)
		info = i
		seen := h.states(name)
		return err == nil && i.State == st && len(seen) > 0 && seen[len(seen)-1] == st
	})
	return info
}

// waitSeq waits until the states name entered contain want in a row.
func (h *harness) waitSeq(name string, d time.Duration, want ...State) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%s states %v", name, want), d, func() bool {
		got := h.states(name)
		for i := 0; i+len(want) <= len(got); i++ {
			if equalStates(got[i:i+len(want)], want) {
				return true
			}
		}
		return false
	})
}

func equalStates(a, b []State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (h *harness) file(name string) string { return filepath.Join(h.dir, name) }

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFile waits until path exists with content containing want.
func (h *harness) waitFile(path, want string, d time.Duration) string {
	h.t.Helper()
	var s string
	h.waitFor(fmt.Sprintf("%s to contain %q", path, want), d, func() bool {
		b, err := os.ReadFile(path)
		s = string(b)
		return err == nil && strings.Contains(s, want)
	})
	return s
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readFileMaybe(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
