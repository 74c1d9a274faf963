package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

func TestMain(m *testing.M) {
	RunTrampoline() // the umask tests run this binary as the trampoline
	runTestRole()   // the recovery tests run it as a previous engine
	os.Exit(testkit.Run(m))
}

// harness is an engine plus a recorder of its events.
type harness struct {
	t     *testing.T
	e     *Engine
	dir   string
	clock *testkit.FakeClock // nil when the engine runs on the real clock
	rec   *testkit.Recorder[Event]
	syncs int // markers published by sync
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
	h := &harness{t: t, dir: dir}
	h.clock, _ = c.Clock.(*testkit.FakeClock)
	h.e = New(c)
	sub := h.e.Subscribe(100000)
	h.rec = testkit.Record(t, sub.C)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if h.clock != nil {
			// Let the stop timers of what still runs fire.
			done := make(chan struct{})
			defer close(done)
			go h.clock.RunUntil(done, 5*time.Millisecond)
		}
		h.e.Shutdown(ctx)
		sub.Close()
	})
	return h
}

// newFakeHarness returns a harness whose engine runs on a fake clock
// (h.clock): its timers fire only when the test advances the time.
func newFakeHarness(t *testing.T) *harness {
	return newHarness(t, Config{Clock: testkit.NewFakeClock()})
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

// all returns every event recorded so far.
func (h *harness) all() []Event { return h.rec.All() }

// sync returns once every event published before the call is recorded:
// it publishes a marker and waits for it (the bus keeps a subscriber's
// events in order). Taking the engine's lock first means that a
// transition in progress has published everything it will.
func (h *harness) sync() {
	h.t.Helper()
	h.e.mu.Lock() // an empty critical section: wait for the holder
	h.e.mu.Unlock()
	h.syncs++
	mark := Event{Type: "TEST_SYNC", Pid: h.syncs}
	h.e.Publish(mark)
	h.rec.Wait(h.t, "the sync marker", 0, func(evs []Event) bool {
		return slices.ContainsFunc(evs, func(ev Event) bool { return ev.Type == mark.Type && ev.Pid == mark.Pid })
	})
}

// states returns the sequence of states name entered.
func (h *harness) states(name string) []State {
	var out []State
	for _, ev := range h.all() {
		if ev.Type == EventProcessState && (ev.Process == name || Namespec(ev.Group, ev.Process) == name) {
			out = append(out, ev.To)
		}
	}
	return out
}

func (h *harness) stateEvents(name string) []Event {
	var out []Event
	for _, ev := range h.all() {
		if ev.Type == EventProcessState && ev.Process == name {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes, for what sends
// no event (files, /proc). States have waitState and waitSeq.
func (h *harness) waitFor(what string, d time.Duration, cond func() bool) {
	h.t.Helper()
	testkit.WaitFor(h.t, what, d, cond)
}

// waitEngine waits, woken by each engine event, until cond holds.
func (h *harness) waitEngine(what string, d time.Duration, cond func() bool) {
	h.t.Helper()
	h.rec.Wait(h.t, what, d, func([]Event) bool { return cond() })
}

// waitState waits until name is in state st.
func (h *harness) waitState(name string, st State, d time.Duration) Info {
	h.t.Helper()
	var info Info
	h.waitEngine(fmt.Sprintf("%s to be %s", name, st), d, func() bool {
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
	h.waitEngine(fmt.Sprintf("%s states %v", name, want), d, func() bool {
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
