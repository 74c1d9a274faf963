package daemon

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// detachedEnv marks the re-executed daemon of --detach; its value is the
// descriptor number of the pipe on which it reports readiness.
const detachedEnv = "TEND_DETACHED_READY_FD"

// Detach re-executes this binary with argv (argv[0] kept: it picks the
// personality, see dropin) as a session leader with its standard streams
// on /dev/null, and waits until it reports that it is serving (or why it
// failed). It returns the exit code for the parent.
func Detach(argv []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "Error: daemonize: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "Error: daemonize: %v\n", err)
		return 1
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "Error: daemonize: %v\n", err)
		return 1
	}
	defer null.Close()
	cmd := exec.Command(exe, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), detachedEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "Error: daemonize: %v\n", err)
		return 1
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if msg, ok := strings.CutPrefix(line, "ok"); ok && strings.TrimSpace(msg) == "" {
		cmd.Process.Release()
		return 0
	}
	if line == "" {
		line = "the daemon exited before it was ready\n"
	}
	fmt.Fprint(stderr, line)
	// A daemon that failed to start exits right after saying why: its
	// code is the answer (2 for a config error, as supervisord's).
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			return ee.ExitCode()
		}
	}
	return 1
}

// ReadyPipe returns the readiness pipe of a daemon that Detach started, or
// nil in a daemon that runs in the foreground.
func ReadyPipe() *os.File {
	if os.Getenv(detachedEnv) != "3" {
		return nil
	}
	os.Unsetenv(detachedEnv)
	return os.NewFile(3, "ready")
}

// Report tells the parent waiting in Detach how start-up went and closes
// the pipe; p may be nil (a foreground daemon).
func Report(p *os.File, err error) {
	if p == nil {
		return
	}
	if err != nil {
		fmt.Fprintf(p, "Error: %v\n", err)
	} else {
		fmt.Fprintln(p, "ok")
	}
	p.Close()
}
