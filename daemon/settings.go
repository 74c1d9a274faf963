package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/tend-sh/tend/vm"
)

// applySettings applies the daemon{} settings that act on the process
// itself: working directory, umask, file limit, and the directories the
// daemon writes to.
func applySettings(dc vm.Daemon) error {
	if dc.Directory != "" {
		if err := os.Chdir(dc.Directory); err != nil {
			return fmt.Errorf("daemon directory: %w", err)
		}
	}
	if dc.Umask >= 0 {
		syscall.Umask(dc.Umask)
	}
	if dc.Minfds > 0 {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(dc.Minfds) {
			rl.Cur = min(uint64(dc.Minfds), rl.Max)
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
				return fmt.Errorf("daemon minfds: raise the file limit to %d: %w", rl.Cur, err)
			}
		}
	}
	if dc.ChildLogDir != "" {
		if err := os.MkdirAll(dc.ChildLogDir, 0o755); err != nil {
			return fmt.Errorf("create childlogdir: %w", err)
		}
	}
	return nil
}

// environ is the daemon's environment plus daemon{ environment }.
func environ(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := extra[k]; !ok && !slices.Contains(sdNotifyVars, k) {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// stateFile is where the engine records its running children for crash
// recovery: beside the pidfile (tend.pid -> tend.state), or beside the
// socket when there is no pidfile.
func stateFile(dc vm.Daemon) string {
	if dc.Pidfile != "" {
		return strings.TrimSuffix(dc.Pidfile, ".pid") + ".state"
	}
	return strings.TrimSuffix(dc.Socket.Path, ".sock") + ".state"
}

// writePidfile writes the daemon's pid, creating the directory.
func writePidfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create pidfile directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	return nil
}
