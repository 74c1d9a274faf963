package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// crashBody is nine processes, as in the run.
const crashBody = `program "c1" { command = "sleep 100000", startsecs = 0, numprocs = 3, process_name = "%(program_name)s_%(process_num)d" }
program "c2" { command = { "sh", "-c", "trap '' TERM; exec sleep 100000" }, startsecs = 0, stopwaitsecs = 2, numprocs = 3, process_name = "%(program_name)s_%(process_num)d" }
program "c3" { command = "sleep 100000", startsecs = 0, numprocs = 3, process_name = "%(program_name)s_%(process_num)d", stopsignal = "INT" }`

// crashScenario kills the daemon with SIGKILL (its children live on) and
// starts it again on the same config and folder: no program may then run
// twice, whatever the daemon does with the survivors.
func crashScenario(ctx context.Context, r *run) {
	d, before, ok := r.startRunning(ctx, "crash", daemonOpts{body: crashBody})
	if !ok {
		return
	}
	// The daemon writes its state file within a second of a change (see
	// stateFlushDelay in supervisor/statefile.go); a crash inside that
	// window leaves children the next daemon cannot know, by design. What
	// this scenario checks is recovery from what the file says, so the
	// kill waits for the file to list the running set.
	t0 := time.Now()
	listed := pollInt(ctx, 10*time.Second, func() int { return stateListed(filepath.Join(d.dir, "tend.state"), before) },
		func(n int) bool { return n == len(before) })
	r.fig("state file lists the running set before kill -9", fmt.Sprintf("%d of %d after %s", listed, len(before), time.Since(t0).Round(time.Millisecond)), listed == len(before))
	d.kill9()
	survivors := 0
	for _, pid := range before {
		if alive(pid) {
			survivors++
		}
	}
	r.fig("children alive after kill -9 of the daemon", fmt.Sprintf("%d of %d", survivors, len(before)), true)
	d2, err := r.startDaemon(ctx, "crash", daemonOpts{body: crashBody, dir: d.dir})
	if err != nil {
		r.errFig("restart daemon", err)
		return
	}
	after, err := d2.waitStates(ctx, 60*time.Second, running)
	r.fig("second daemon: all RUNNING", summarize(after), err == nil)
	// A daemon that stops the survivors gracefully takes up to their
	// stopwaitsecs (2 s) to; poll until nothing runs twice, or 5 s.
	var twice []string
	pollInt(ctx, 5*time.Second, func() int { twice = runningTwice(r.mark); return len(twice) }, func(n int) bool { return n == 0 })
	after, _ = d2.status(ctx)
	known := map[int]bool{}
	for _, p := range after {
		if p.Pid != 0 {
			known[p.Pid] = true
		}
	}
	r.figD(6, "programs running twice after restart", fmt.Sprintf("%d of %d: %s", len(twice), len(after), listOrNone(twice)), len(twice) == 0)
	orphans, _ := strays(r.Harness, d2, known)
	r.figD(6, "processes unknown to the new daemon", listOrNone(orphans), len(orphans) == 0)
}

// runningTwice lists the process names with more than one live process
// carrying the run's marker.
func runningTwice(mark string) []string {
	byName := map[string][]int{}
	for _, m := range markedProcesses(markerKey, mark) {
		if !m.daemon {
			byName[m.process] = append(byName[m.process], m.pid)
		}
	}
	var twice []string
	for name, pids := range byName {
		if len(pids) > 1 {
			slices.Sort(pids)
			twice = append(twice, fmt.Sprintf("%s%v", name, pids))
		}
	}
	slices.Sort(twice)
	return twice
}

// strayFDScenario starts the daemon with an inherited fd that is not
// close-on-exec (as a shell or service manager may leave one) and checks
// that a child has only 0, 1 and 2.
func strayFDScenario(ctx context.Context, r *run) {
	dir, err := r.dir("stray")
	if err != nil {
		r.errFig("folder", err)
		return
	}
	stray, err := os.Create(filepath.Join(dir, "stray-fd"))
	if err != nil {
		r.errFig("stray file", err)
		return
	}
	defer stray.Close()
	body := `program "child" { command = "sleep 100000", startsecs = 0, numprocs = 2, process_name = "%(program_name)s_%(process_num)d" }`
	_, pids, ok := r.startRunning(ctx, "stray", daemonOpts{body: body, extraFiles: []*os.File{stray}})
	if !ok {
		return
	}
	var bad []string
	for name, pid := range pids {
		got, err := fds(pid)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{0, 1, 2}) {
			bad = append(bad, fmt.Sprintf("%s has fds %v", name, got))
		}
	}
	r.figD(4, "children's fds (want 0 1 2)", listOrNone(bad), len(bad) == 0)
}

// stateListed counts the pids of want that the state file at path lists.
func stateListed(path string, want map[string]int) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st struct {
		Processes []struct {
			Pid int `json:"pid"`
		} `json:"processes"`
	}
	if json.Unmarshal(b, &st) != nil {
		return 0
	}
	listed := map[int]bool{}
	for _, p := range st.Processes {
		listed[p.Pid] = true
	}
	n := 0
	for _, pid := range want {
		if listed[pid] {
			n++
		}
	}
	return n
}
