package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Crash recovery (issue 11, defect 6). A previous instance is this test
// binary run as a daemon (role prev-engine) under a stand-in for init
// (role reaper: a subreaper that reaps what is re-parented to it, as
// systemd does), and killed with SIGKILL. Its children live on, children of
// the reaper and not of the test, as they would be in production.

const testRoleEnv = "TEND_TEST_ROLE"

// runTestRole runs the helper roles of this test binary; it returns when
// the binary was started as the test itself.
func runTestRole() {
	switch os.Getenv(testRoleEnv) {
	case "reaper":
		runReaperRole()
	case "sig-block":
		runSigBlockRole()
	case "sig-engine":
		runSigEngineRole()
	case "prev-engine":
		runPrevEngineRole()
	case "notify":
		runNotifyRole()
	case "sockserve":
		runSockServeRole()
	case "notify-script":
		runNotifyScriptRole()
	}
}

// runReaperRole becomes a subreaper, runs the previous engine and reaps
// every process re-parented to it until its stdin closes.
func runReaperRole() {
	if err := BecomeSubreaper(); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testRoleEnv+"=prev-engine")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	go func() {
		bufio.NewReader(os.Stdin).ReadString(0)
		os.Exit(0)
	}()
	for range sigs {
		var ws syscall.WaitStatus
		for {
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}

// prevSpecs are the programs of the previous instance.
func prevSpecs(dir string) []Spec {
	mk := func(name string, argv ...string) Spec {
		s := NewSpec(name, argv...)
		s.StartSecs = 0
		s.StopWait = time.Second
		s.Stdout.Path = filepath.Join(dir, name+".log")
		return s
	}
	plain := mk("plain", "sleep", "300")
	stubborn := mk("stubborn", "/bin/sh", "-c", `trap "" TERM; echo up; while :; do sleep 1; done`)
	family := mk("family", "/bin/sh", "-c", `sleep 300 & echo $! > `+filepath.Join(dir, "grandchild")+`; wait`)
	family.StopAsGroup = true
	if url := os.Getenv("TEND_TEST_SOCKET"); url != "" {
		// An fcgi program whose orphan keeps its socket (TestRecoverAdoptsSocket).
		sock := mk("sock", "sleep", "300")
		sk, _ := ParseSocketURL(url)
		sock.Socket = &sk
		return []Spec{plain, stubborn, family, sock}
	}
	return []Spec{plain, stubborn, family}
}

// runPrevEngineRole runs an engine with a state file, prints
// "READY name=pid..." once everything runs and the file is written, and
// waits to be killed.
func runPrevEngineRole() {
	dir := os.Getenv("TEND_TEST_DIR")
	e := New(Config{StateFile: os.Getenv("TEND_TEST_STATE"), ChildLogDir: dir})
	specs := prevSpecs(dir)
	if _, err := e.Update(context.Background(), specs); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []string
		for _, s := range specs {
			if i, err := e.Info(s.Name); err == nil && i.State == Running {
				out = append(out, s.Name+"="+strconv.Itoa(i.Pid))
			}
		}
		// The shell creates the file before it writes the pid: wait
		// for the pid itself.
		b, _ := os.ReadFile(filepath.Join(dir, "grandchild"))
		_, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if len(out) == len(specs) && err == nil {
			e.flushState()
			fmt.Println("READY", os.Getpid(), strings.Join(out, " "))
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("ERROR not running:", out)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {}
}

// prevInstance is a previous engine killed with SIGKILL.
type prevInstance struct {
	state      string
	pids       map[string]int // by program name
	grandchild int
	starts     map[int]uint64 // start time by pid, to clean up safely
}

// crashedInstance starts a previous instance, waits until it runs its
// programs and has written its state file, and kills it with SIGKILL. The
// cleanup kills whatever it left running (checked by start time).
func crashedInstance(t *testing.T) *prevInstance {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "tend.state")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testRoleEnv+"=reaper", "TEND_TEST_DIR="+dir, "TEND_TEST_STATE="+state)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pi := &prevInstance{state: state, pids: map[string]int{}, starts: map[int]uint64{}}
	var daemon int
	t.Cleanup(func() {
		// Also after a failure half-way: the previous engine and every
		// process it reported die with the test.
		if daemon > 0 {
			syscall.Kill(daemon, syscall.SIGKILL)
		}
		for _, pid := range append(slices.Collect(mapValues(pi.pids)), pi.grandchild) {
			start, known := pi.starts[pid]
			if st, err := readProcStat(pid); pid > 0 && err == nil && (!known || st.Start == start) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) < 2 || f[0] != "READY" {
		t.Fatalf("previous instance: %q, %v", line, err)
	}
	daemon, _ = strconv.Atoi(f[1])
	for _, kv := range f[2:] {
		name, pid, _ := strings.Cut(kv, "=")
		pi.pids[name], _ = strconv.Atoi(pid)
	}
	b, err := os.ReadFile(filepath.Join(dir, "grandchild"))
	if err != nil {
		t.Fatal(err)
	}
	pi.grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	for _, pid := range append(slices.Collect(mapValues(pi.pids)), pi.grandchild) {
		st, err := readProcStat(pid)
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		pi.starts[pid] = st.Start
	}
	syscall.Kill(daemon, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for alive(daemon) {
		if time.Now().After(deadline) {
			t.Fatal("previous instance survived SIGKILL")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for name, pid := range pi.pids {
		if !alive(pid) {
			t.Fatalf("%s (pid %d) died with the previous instance: nothing to recover", name, pid)
		}
	}
	return pi
}

func mapValues(m map[string]int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// anyAlive returns the pids of pids still alive.
func anyAlive(pids ...int) []int {
	var out []int
	for _, pid := range pids {
		if alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func outcomes(rs []Recovered) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		m[r.Name] = r.Outcome
	}
	return m
}

// Mode stop (the default): every process the previous instance left is
// stopped before anything starts (SIGKILL for the one ignoring SIGTERM, the
// whole group for stopasgroup), and the update runs one copy of each.
func TestRecoverStopsOrphans(t *testing.T) {
	prev := crashedInstance(t)
	h := newHarness(t, Config{StateFile: prev.state})
	specs := prevSpecs(h.dir)
	rs, err := h.e.Recover(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"plain": RecoverStopped, "stubborn": RecoverKilled, "family": RecoverStopped}
	if got := outcomes(rs); !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	// Recover returns once they are gone: no waiting needed.
	if left := anyAlive(append(slices.Collect(mapValues(prev.pids)), prev.grandchild)...); len(left) > 0 {
		t.Fatalf("still running after Recover: %v (grandchild %d)", left, prev.grandchild)
	}
	h.update(specs...)
	for _, s := range specs {
		i := h.waitState(s.Name, Running, 10*time.Second)
		if i.Pid == prev.pids[s.Name] || i.Adopted {
			t.Errorf("%s: pid %d adopted=%v, want a new process", s.Name, i.Pid, i.Adopted)
		}
	}
}

// Mode adopt: the orphans are kept, RUNNING with their old pids; their
// exit (status unknown) is noticed and handled by autorestart; a stop
// request reaches them; a process no longer configured is stopped.
func TestRecoverAdoptsOrphans(t *testing.T) {
	prev := crashedInstance(t)
	h := newHarness(t, Config{StateFile: prev.state, Orphans: OrphansAdopt})
	var specs []Spec
	for _, s := range prevSpecs(h.dir) {
		if s.Name != "family" { // dropped from the config meanwhile
			specs = append(specs, s)
		}
	}
	rs, err := h.e.Recover(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"plain": RecoverAdopted, "stubborn": RecoverAdopted, "family": RecoverStopped}
	if got := outcomes(rs); !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if left := anyAlive(prev.pids["family"], prev.grandchild); len(left) > 0 {
		t.Errorf("unconfigured orphan still running: %v", left)
	}
	h.update(specs...)
	for _, name := range []string{"plain", "stubborn"} {
		i, err := h.e.Info(name)
		if err != nil || i.State != Running || i.Pid != prev.pids[name] || !i.Adopted {
			t.Fatalf("%s: %+v, %v; want RUNNING with pid %d, adopted", name, i, err, prev.pids[name])
		}
		if d := i.Description(); !strings.Contains(d, "output not captured") || i.Uptime() < 0 {
			t.Errorf("%s: description %q", name, d)
		}
	}
	h.waitFile(prev.state, `"pid":`+strconv.Itoa(prev.pids["plain"]), 5*time.Second)

	// An adopted process that dies is noticed, and autorestart (unexpected)
	// starts a new one.
	syscall.Kill(prev.pids["plain"], syscall.SIGKILL)
	h.waitSeq("plain", 10*time.Second, Running, Exited, Starting)
	i := h.waitState("plain", Running, 10*time.Second)
	if i.Pid == prev.pids["plain"] || i.Adopted {
		t.Errorf("plain after restart: pid %d adopted=%v", i.Pid, i.Adopted)
	}
	// A stop request reaches an adopted process (SIGKILL after stopwaitsecs
	// for this one).
	if err := h.e.StopProcess(context.Background(), "stubborn", true); err != nil {
		t.Fatal(err)
	}
	if i, _ := h.e.Info("stubborn"); i.State != Stopped {
		t.Errorf("stubborn after stop: %s", i.State)
	}
	// Its exit is seen on the pidfd; its real parent (the stand-in init)
	// reaps it a moment later.
	h.waitFor("stubborn to be gone", 5*time.Second, func() bool { return !alive(prev.pids["stubborn"]) })
}

// A recorded pid now used by an unrelated process (another start time) is
// never signalled; a dead one is reported gone; a state file whose writer
// is alive is refused.
func TestRecoverLeavesOtherProcessesAlone(t *testing.T) {
	stranger := exec.Command("sleep", "300")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	st, err := readProcStat(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(s stateFile) string {
		path := filepath.Join(dir, "state")
		b, _ := json.Marshal(s)
		writeFile(t, path, string(b), 0o600)
		return path
	}
	entry := func(name string, pid int, start uint64) stateProcess {
		return stateProcess{Name: name, Pid: pid, Pgid: pid, Start: start, Command: []string{"sleep", "300"},
			StopSignal: "KILL", StopWait: 1, StopAsGroup: true, KillAsGroup: true}
	}
	path := write(stateFile{Version: stateVersion, BootID: bootID(), Pid: done.Process.Pid, Processes: []stateProcess{
		entry("reused", stranger.Process.Pid, st.Start+1), entry("gone", done.Process.Pid, 1),
	}})
	e := New(Config{StateFile: path})
	defer e.Shutdown(context.Background())
	rs, err := e.Recover(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outcomes(rs), map[string]string{"reused": RecoverReused, "gone": RecoverGone}; !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if !alive(stranger.Process.Pid) {
		t.Fatal("an unrelated process with a recorded pid was killed")
	}

	write(stateFile{Version: stateVersion, BootID: bootID(), Pid: stranger.Process.Pid, Start: st.Start,
		Processes: []stateProcess{entry("x", stranger.Process.Pid, st.Start)}})
	if _, err := e.Recover(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Recover with a live writer: %v, want a refusal", err)
	}
	if !alive(stranger.Process.Pid) {
		t.Fatal("the processes of a live engine were killed")
	}

	writeFile(t, path, "{not json", 0o600)
	if _, err := e.Recover(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Recover with a corrupt file: %v", err)
	}
}

// The state file follows the running set, and a clean shutdown removes it.
func TestStateFileFollowsRunningSet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tend.state")
	h := newHarness(t, Config{StateFile: path})
	a := h.spec("a", "sleep", "300")
	h.update(a)
	i := h.waitState("a", Running, 10*time.Second)
	h.waitFile(path, `"pid":`+strconv.Itoa(i.Pid), 5*time.Second)
	s, err := readStateFile(path)
	if err != nil || len(s.Processes) != 1 {
		t.Fatalf("state %+v, %v", s, err)
	}
	st, _ := readProcStat(i.Pid)
	if p := s.Processes[0]; p.Name != "a" || p.Start != st.Start || p.StopSignal != "TERM" || s.Pid != os.Getpid() || s.BootID == "" {
		t.Errorf("recorded %+v in %+v", p, s)
	}
	if err := h.e.StopProcess(context.Background(), "a", true); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the state file to list nothing", 5*time.Second, func() bool {
		s, err := readStateFile(path)
		return err == nil && len(s.Processes) == 0 && s.Pid != 0
	})
	h.e.Shutdown(context.Background())
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after shutdown: %v", err)
	}
}

// A flapping program rewrites the state file at most once per
// stateFlushDelay (a small file is quick to write), however often it
// restarts.
func TestStateFileWritesCoalesce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tend.state")
	h := newHarness(t, Config{StateFile: path})
	flap := h.spec("flap", "/bin/true")
	flap.StartSecs = 0
	flap.AutoRestart = RestartAlways
	began := time.Now()
	h.update(flap)
	h.waitFor("200 restarts", 30*time.Second, func() bool {
		i, _ := h.e.Info("flap")
		return i.Restarts >= 200
	})
	h.e.StopProcess(context.Background(), "flap", true)
	elapsed := time.Since(began)
	h.e.state.mu.Lock()
	writes := h.e.state.writes
	h.e.state.mu.Unlock()
	i, _ := h.e.Info("flap")
	t.Logf("%d restarts in %s: %d state file writes", i.Restarts, elapsed.Round(time.Millisecond), writes)
	if limit := int(elapsed/stateFlushDelay) + 1; writes > limit {
		t.Errorf("%d writes in %s, want at most %d", writes, elapsed, limit)
	}
}
