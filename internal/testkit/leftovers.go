package testkit

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RunEnv is the variable Run sets to mark every process a test starts.
// Children keep their environment when re-parented, so the mark finds
// an orphan wherever it ends up.
const RunEnv = "TEND_TEST_RUN"

// leftoverGrace is how long Run lets killed children finish dying.
const leftoverGrace = 5 * time.Second

// Run runs a package's tests (call it from TestMain:
// os.Exit(testkit.Run(m))) and fails the package when they leave
// something behind: a live process started by a test, or a new file in
// the package's folder (or its testdata). Leftover processes are listed and killed.
func Run(m *testing.M) int {
	mark := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	os.Setenv(RunEnv, mark)
	before := treeFiles(".")
	code := m.Run()
	var problems []string
	deadline := time.Now().Add(leftoverGrace)
	procs := markedProcs(mark)
	for len(procs) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		procs = markedProcs(mark)
	}
	for _, pid := range procs {
		problems = append(problems, fmt.Sprintf("process %d (%s%s) is still running", pid, cmdline(pid), supervised(pid)))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, f := range treeFiles(".") {
		if !slices.Contains(before, f) {
			problems = append(problems, "file "+f+" was left in the package folder")
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: the tests left things behind:\n\t"+strings.Join(problems, "\n\t"))
		return 1
	}
	return code
}

// markedProcs returns the live processes, other than this one, whose
// environment carries mark. Zombies have no environment and do not count.
func markedProcs(mark string) []int {
	want := []byte(RunEnv + "=" + mark + "\x00")
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && (bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...))) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// supervised names the program an engine started pid as, which says
// which test leaked it.
func supervised(pid int) string {
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	for _, kv := range strings.Split(string(env), "\x00") {
		if name, ok := strings.CutPrefix(kv, "SUPERVISOR_PROCESS_NAME="); ok {
			return ", program " + name
		}
	}
	return ""
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// treeFiles lists the files of dir and of its testdata folder: what the
// package's tests could have written. Other packages' folders are left to
// their own check, since their tests run at the same time.
func treeFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != dir && !strings.HasPrefix(p, filepath.Join(dir, "testdata")) {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}
