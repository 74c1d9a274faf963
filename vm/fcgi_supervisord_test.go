package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// fcgiSocket is what a child of an fcgi program got as descriptor 0, seen
// from outside: whether it is a listening socket, its backlog (ss's Send-Q
// of a listening socket), and for a unix socket its path's mode.
type fcgiSocket struct {
	Listening bool
	Backlog   string
	Mode      os.FileMode
}

// fd0Socket describes descriptor 0 of pid, path being the unix socket's
// path ("" for TCP).
func fd0Socket(t *testing.T, pid int, path string) fcgiSocket {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
	if err != nil {
		t.Fatal(err)
	}
	ino, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		t.Fatalf("pid %d: fd 0 is %s, not a socket", pid, link)
	}
	ino = strings.TrimSuffix(ino, "]")
	var got fcgiSocket
	if path != "" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		got.Mode = st.Mode().Perm()
		out, err := exec.Command("ss", "-Hlxn").Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		for _, ln := range strings.Split(string(out), "\n") {
			if f := strings.Fields(ln); len(f) >= 6 && f[5] == ino && f[4] == path {
				got.Listening, got.Backlog = f[1] == "LISTEN", f[3]
			}
		}
		return got
	}
	out, err := exec.Command("ss", "-Hltne").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	for _, ln := range strings.Split(string(out), "\n") {
		if f := strings.Fields(ln); len(f) >= 3 && strings.Contains(ln, " ino:"+ino+" ") {
			got.Listening, got.Backlog = f[0] == "LISTEN", f[2]
		}
	}
	return got
}

// fcgiINI is an [fcgi-program:x] config: a unix socket with a mode and a
// backlog, and a TCP socket with supervisord's default backlog.
func fcgiINI(dir string, port int) string {
	return fmt.Sprintf(`[supervisord]
logfile=%[1]s/sv.log
pidfile=%[1]s/sv.pid
childlogdir=%[1]s

[unix_http_server]
file=%[1]s/sv.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[fcgi-program:u]
command=sleep 1000
socket=unix://%[1]s/%%(program_name)s.sock
socket_mode=0660
socket_backlog=77
startsecs=0

[fcgi-program:t]
command=sleep 1000
socket=tcp://127.0.0.1:%[2]d
startsecs=0
`, dir, port)
}

// TestFCGIMatchesSupervisord runs one [fcgi-program:x] config under
// Debian's supervisord and under tend (the INI run directly, as the
// drop-in does), each on its own socket paths and ports: both children
// get a listening socket as descriptor 0, with the same backlog and the
// same mode.
func TestFCGIMatchesSupervisord(t *testing.T) {
	sv := testkit.RequireTool(t, "supervisord")
	testkit.RequireTool(t, "ss")

	// supervisord
	svDir := testkit.ShortTempDir(t)
	svPort := testkit.FreePort(t)
	writeFile(t, filepath.Join(svDir, "supervisord.conf"), fcgiINI(svDir, svPort))
	cmd := exec.Command(sv, "-n", "-c", filepath.Join(svDir, "supervisord.conf"))
	cmd.Dir = svDir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var svKids []int
	testkit.WaitFor(t, "supervisord's two children", 0, func() bool {
		svKids = childrenOf(cmd.Process.Pid)
		return len(svKids) == 2
	})

	// tend
	dir := testkit.ShortTempDir(t)
	port := testkit.FreePort(t)
	path := filepath.Join(dir, "tend.conf")
	writeFile(t, path, fcgiINI(dir, port))
	v, cfg, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	e := newEngine(t)
	e.Load(cfg.Specs...)

	for _, prog := range []string{"u", "t"} {
		sockPath := func(d string) string {
			if prog == "u" {
				return filepath.Join(d, "u.sock")
			}
			return ""
		}
		svPid := 0
		for _, pid := range svKids {
			// Each child's fd 0 names its program's socket.
			if s := fd0Socket(t, pid, sockPath(svDir)); s.Listening {
				svPid = pid
			}
		}
		if svPid == 0 {
			t.Fatalf("%s: no supervisord child has its socket as fd 0", prog)
		}
		want := fd0Socket(t, svPid, sockPath(svDir))
		got := fd0Socket(t, info(t, e, prog).Pid, sockPath(dir))
		t.Logf("%s: supervisord %+v, tend %+v", prog, want, got)
		if got != want {
			t.Errorf("%s: tend's child has %+v on fd 0, supervisord's %+v", prog, got, want)
		}
	}
	// Removing the program closes tend's socket and removes its path.
	if _, err := e.Update(context.Background(), []supervisor.Spec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "u.sock")); !os.IsNotExist(err) {
		t.Errorf("u.sock after removal: %v", err)
	}
}

// childrenOf returns the pids of pid's children.
func childrenOf(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
