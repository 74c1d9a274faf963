package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Section 5 of the reference: environment, directory, umask, user.
func TestChildEnvironment(t *testing.T) {
	h := newHarness(t, Config{ServerURL: "unix:///tmp/x.sock", Environ: []string{"PATH=/usr/bin:/bin", "HOME=/root", "KEEP=daemon", "OVER=daemon"}})
	s := h.spec("envdump", "/usr/bin/env")
	s.Group = "grp"
	s.StartSecs = 0
	s.AutoRestart = RestartNever
	s.Environment = map[string]string{"OVER": "program", "EXTRA": "x,y"}
	s.Stdout.Path = h.file("env.log")
	own := h.spec("ownurl", "/usr/bin/env")
	own.StartSecs = 0
	own.AutoRestart = RestartNever
	own.ServerURL = "http://127.0.0.1:9001"
	own.Stdout.Path = h.file("ownurl.log")
	h.update(s, own)
	if got := h.waitFile(h.file("ownurl.log"), "SUPERVISOR_SERVER_URL=", 5*time.Second); !strings.Contains(got, "SUPERVISOR_SERVER_URL=http://127.0.0.1:9001\n") {
		t.Errorf("serverurl= did not override the daemon's URL: %q", got)
	}
	h.waitState("grp:envdump", Exited, 5*time.Second)
	got := map[string]string{}
	// The exit can be reaped before the capture goroutine drains the pipe.
	dump := h.waitFile(h.file("env.log"), "SUPERVISOR_PROCESS_NAME=", 10*time.Second)
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	want := map[string]string{
		"SUPERVISOR_ENABLED": "1", "SUPERVISOR_PROCESS_NAME": "envdump", "SUPERVISOR_GROUP_NAME": "grp",
		"SUPERVISOR_SERVER_URL": "unix:///tmp/x.sock", "KEEP": "daemon", "OVER": "program", "EXTRA": "x,y",
		"HOME": "/root",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
}

func TestDirectoryAndUmask(t *testing.T) {
	h := newHarness(t)
	wd := h.file("wd")
	os.Mkdir(wd, 0o755)
	cases := []struct {
		name  string
		umask int
		want  os.FileMode
	}{
		{"u077", 0o077, 0o600},
		{"u002", 0o002, 0o664},
		{"inherit", -1, 0o666 &^ currentUmask()},
	}
	var specs []Spec
	for _, c := range cases {
		s := h.spec(c.name, sh(`pwd > `+c.name+`.pwd; umask > `+c.name+`.umask`)...)
		s.Directory = wd
		s.Umask = c.umask
		s.StartSecs = 0
		s.AutoRestart = RestartNever
		specs = append(specs, s)
	}
	h.update(specs...)
	for _, c := range cases {
		h.waitState(c.name, Exited, 5*time.Second)
		if got := strings.TrimSpace(readFile(t, filepath.Join(wd, c.name+".pwd"))); got != wd {
			t.Errorf("%s: pwd %q, want %q", c.name, got, wd)
		}
		st, err := os.Stat(filepath.Join(wd, c.name+".umask"))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != c.want {
			t.Errorf("%s: file created with mode %o, want %o", c.name, got, c.want)
		}
	}
	if m := currentUmask(); m != 0o022 && m != 0o002 {
		t.Logf("note: test process umask is %o", m)
	}
}

func currentUmask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	m := regexp.MustCompile(`Umask:\s+([0-7]+)`).FindSubmatch(b)
	if m == nil {
		return 0o022
	}
	var v os.FileMode
	for _, c := range m[1] {
		v = v*8 + os.FileMode(c-'0')
	}
	return v
}

func TestUserDropsPrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("user= needs root: the test runs as uid", os.Getuid())
	}
	h := newHarness(t)
	s := h.spec("asnobody", "/usr/bin/id")
	s.User = "nobody"
	s.StartSecs = 0
	s.AutoRestart = RestartNever
	s.Stdout.Path = h.file("id.log")
	h.update(s)
	h.waitState("asnobody", Exited, 5*time.Second)
	out := h.waitFile(h.file("id.log"), "uid=", 10*time.Second)
	if !strings.Contains(out, "uid=65534") || !strings.Contains(out, "gid=65534") {
		t.Errorf("id printed %q, want uid/gid 65534", out)
	}
	// Supplementary groups are the user's, not root's (no NoSetGroups leak).
	if strings.Contains(out, "0(root)") {
		t.Errorf("child kept root's supplementary groups: %q", out)
	}
}

func TestUnknownUserIsSpawnError(t *testing.T) {
	h := newHarness(t)
	s := h.spec("baduser", "sleep", "1")
	s.User = "nosuchuser_xyz"
	s.StartRetries = 0
	h.update(s)
	info := h.waitState("baduser", Fatal, 5*time.Second)
	if got := info.Description(); got != "Invalid user name nosuchuser_xyz" {
		t.Errorf("description %q", got)
	}
}

// Section 7: log targets.
func TestLogTargets(t *testing.T) {
	h := newHarness(t)
	script := sh(`echo out1; echo err1 >&2`)
	redir := h.spec("redir", script...)
	redir.RedirectStderr = true
	redir.Stdout.Path = h.file("redir.log")
	auto := h.spec("auto", script...)
	none := h.spec("nolog", script...)
	none.Stdout.Path = LogNone
	for _, s := range []*Spec{&redir, &auto, &none} {
		s.StartSecs = 0
		s.AutoRestart = RestartNever
	}
	h.update(redir, auto, none)
	for _, n := range []string{"redir", "auto", "nolog"} {
		h.waitState(n, Exited, 5*time.Second)
	}
	got := h.waitFile(h.file("redir.log"), "err1", 10*time.Second)
	if got != "out1\nerr1\n" && got != "err1\nout1\n" {
		t.Errorf("redirected log %q", got)
	}
	if i, _ := h.e.Info("redir"); i.StderrLogfile != "" {
		t.Errorf("redirect_stderr still has a stderr log %q", i.StderrLogfile)
	}
	info, _ := h.e.Info("auto")
	autoRe := regexp.MustCompile(`^auto-(stdout|stderr)---supervisor-[a-z0-9_]{8}\.log$`)
	for _, p := range []string{info.StdoutLogfile, info.StderrLogfile} {
		if filepath.Dir(p) != h.dir || !autoRe.MatchString(filepath.Base(p)) {
			t.Errorf("AUTO log named %q", p)
		}
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("AUTO log %s: %v mode %v, want 0600", p, err, st.Mode().Perm())
		}
	}
	h.waitFile(info.StdoutLogfile, "out1", 10*time.Second)
	h.waitFile(info.StderrLogfile, "err1", 10*time.Second)
	// NONE discards stdout but stderr still goes to an AUTO file.
	ni, _ := h.e.Info("nolog")
	if ni.StdoutLogfile != "" || ni.StderrLogfile == "" {
		t.Errorf("NONE: stdout %q stderr %q", ni.StdoutLogfile, ni.StderrLogfile)
	}
	if _, err := h.e.ReadLog("nolog", "stdout", -100, 0); FaultOf(err) != FaultNoFile {
		t.Errorf("reading a NONE log: %v, want NO_FILE", err)
	}
	data, err := h.e.ReadLog("auto", "stderr", -100, 0)
	if err != nil || string(data) != "err1\n" {
		t.Errorf("ReadLog stderr = %q, %v", data, err)
	}
	if _, err := h.e.Clear(ParseTarget("auto")); err != nil {
		t.Fatal(err)
	}
	if data, _ := h.e.ReadLog("auto", "stdout", 0, 0); len(data) != 0 {
		t.Errorf("log not cleared: %q", data)
	}
}

func TestSendStdin(t *testing.T) {
	h := newHarness(t)
	s := h.spec("cat", "/bin/cat")
	s.StartSecs = 0
	s.Stdout.Path = h.file("cat.log")
	h.update(s)
	h.waitState("cat", Running, 5*time.Second)
	if err := h.e.SendStdin("cat", []byte("hello stdin\n")); err != nil {
		t.Fatal(err)
	}
	h.waitFile(h.file("cat.log"), "hello stdin", 10*time.Second)
	h.e.StopProcess(context.Background(), "cat", true)
	if err := h.e.SendStdin("cat", []byte("x")); FaultOf(err) != FaultNotRunning {
		t.Errorf("stdin to a stopped process: %v, want NOT_RUNNING", err)
	}
}
