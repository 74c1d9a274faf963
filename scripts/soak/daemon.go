package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonOpts says how to start a daemon.
type daemonOpts struct {
	extra      string     // more daemon{} settings
	body       string     // programs, groups, hooks
	extraFiles []*os.File // inherited by the daemon as fds 3, 4, ...
	dir        string     // reuse this folder (crash recovery); "" = a new one
	childlog   string     // childlogdir; "" = DIR/logs
}

// Daemon is one `tend daemon` the harness runs in the foreground, driven
// from outside: the CLI, XML-RPC and the JSON API over its unix socket.
type Daemon struct {
	h      *Harness
	name   string
	dir    string
	config string
	sock   string
	opts   daemonOpts
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	hc     *http.Client
}

// configText is the config of a daemon in dir.
func configText(dir string, o daemonOpts, body string) string {
	childlog := o.childlog
	if childlog == "" {
		childlog = filepath.Join(dir, "logs")
	}
	return fmt.Sprintf(`daemon { logfile = %q, pidfile = %q, childlogdir = %q, socket = { path = %q }, loglevel = "info", %s }
%s
`, filepath.Join(dir, "tend.log"), filepath.Join(dir, "tend.pid"), childlog,
		filepath.Join(dir, "tend.sock"), o.extra, body)
}

// startDaemon writes a config and starts a daemon on it, waiting until it
// answers.
func (h *Harness) startDaemon(ctx context.Context, name string, o daemonOpts) (*Daemon, error) {
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = h.dir(name); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
			return nil, err
		}
	}
	d := &Daemon{h: h, name: name, dir: dir, config: filepath.Join(dir, "tend.lua"),
		sock: filepath.Join(dir, "tend.sock"), opts: o}
	d.hc = unixClient(d.sock)
	if err := d.writeConfig(o.body); err != nil {
		return nil, err
	}
	return d, d.start(ctx)
}

// unixClient is an HTTP client that dials the socket at path.
func unixClient(path string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 16, DisableCompression: true,
	}
	return &http.Client{Transport: tr}
}

// writeConfig (re)writes the daemon's config with body.
func (d *Daemon) writeConfig(body string) error {
	return os.WriteFile(d.config, []byte(configText(d.dir, d.opts, body)), 0o644)
}

// start runs the daemon process (in its own process group, so that a
// Ctrl-C at the terminal reaches only the harness, which then cleans up).
func (d *Daemon) start(ctx context.Context) error {
	d.out = &lockedBuffer{}
	d.cmd = exec.Command(d.h.bin, "daemon", "-c", d.config)
	d.cmd.Env = append(os.Environ(), markerKey+"="+d.h.mark)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.ExtraFiles = d.opts.extraFiles
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start daemon %s: %w", d.name, err)
	}
	d.exited = make(chan struct{})
	go func(c *exec.Cmd, ch chan struct{}) { c.Wait(); close(ch) }(d.cmd, d.exited)
	d.h.mu.Lock()
	d.h.daemons = append(d.h.daemons, d)
	d.h.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d.exitedNow() {
			return fmt.Errorf("daemon %s exited at start: %s", d.name, d.out.String())
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := d.json(cctx, "GET", "/v1/version", nil, nil)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("daemon %s not answering: %v\n%s", d.name, err, d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pid is the daemon's pid.
func (d *Daemon) pid() int { return d.cmd.Process.Pid }

func (d *Daemon) exitedNow() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout, then SIGKILLs the daemon's
// process group. It returns how long the daemon took to exit and whether
// it exited on SIGTERM.
func (d *Daemon) Stop(timeout time.Duration) (time.Duration, bool) {
	if d.cmd == nil || d.exited == nil {
		return 0, true
	}
	t0 := time.Now()
	if d.exitedNow() {
		return 0, true
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return time.Since(t0), true
	case <-time.After(timeout):
	}
	syscall.Kill(-d.pid(), syscall.SIGKILL)
	<-d.exited
	return time.Since(t0), false
}

// kill9 kills the daemon alone with SIGKILL (its children live on).
func (d *Daemon) kill9() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// mainLog returns the daemon's own log file.
func (d *Daemon) mainLog() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "tend.log"))
	return string(b)
}

// ctl runs `tend -c CONFIG args...` with a timeout and returns the
// combined output and exit code (-1 when it did not finish in time).
func (d *Daemon) ctl(ctx context.Context, timeout time.Duration, args ...string) (string, int) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, d.h.bin, append([]string{"-c", d.config}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if cctx.Err() != nil {
		return string(out), -1
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return string(out) + err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// httpError is a reply with a status other than 2xx.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// json sends a JSON API request (body marshalled unless it is []byte) and
// decodes a 2xx reply into out (when not nil).
func (d *Daemon) json(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return err
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://tend"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &httpError{resp.StatusCode, strings.TrimSpace(string(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// procInfo is the part of /v1/status the harness reads.
type procInfo struct {
	Name      string `json:"name"`
	Group     string `json:"group"`
	StateName string `json:"statename"`
	Pid       int    `json:"pid"`
}

// full is the group:name of a process, as SUPERVISOR_* in its environment
// gives it.
func (p procInfo) full() string { return p.Group + ":" + p.Name }

// status returns every process.
func (d *Daemon) status(ctx context.Context) ([]procInfo, error) {
	var r struct {
		Processes []procInfo `json:"processes"`
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := d.json(cctx, "GET", "/v1/status", nil, &r)
	return r.Processes, err
}

// pids returns name -> pid of the processes that have one.
func (d *Daemon) pids(ctx context.Context) (map[string]int, error) {
	ps, err := d.status(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, p := range ps {
		if p.Pid != 0 {
			m[p.full()] = p.Pid
		}
	}
	return m, nil
}

// waitStates polls status until every process satisfies ok, or timeout.
// An empty list does not count: every config of the harness has
// processes, and a daemon that has just started may not list them yet.
func (d *Daemon) waitStates(ctx context.Context, timeout time.Duration, ok func(procInfo) bool) ([]procInfo, error) {
	deadline := time.Now().Add(timeout)
	for {
		ps, err := d.status(ctx)
		if err == nil && len(ps) > 0 {
			all := true
			for _, p := range ps {
				all = all && ok(p)
			}
			if all {
				return ps, nil
			}
		}
		if ctx.Err() != nil {
			return ps, ctx.Err()
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("timed out after %s: %s", timeout, summarize(ps))
			}
			return ps, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// summarize counts processes per state ("RUNNING=9 STARTING=1").
func summarize(ps []procInfo) string {
	count := map[string]int{}
	var order []string
	for _, p := range ps {
		if count[p.StateName] == 0 {
			order = append(order, p.StateName)
		}
		count[p.StateName]++
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s=%d", s, count[s]))
	}
	return strings.Join(parts, " ")
}

func running(p procInfo) bool { return p.StateName == "RUNNING" }

// metrics scrapes /metrics and sums each family's samples.
func (d *Daemon) metrics(ctx context.Context) (map[string]float64, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, "GET", "http://tend/metrics", nil)
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may hold spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			name, rest = line[:i], strings.TrimSpace(line[j+1:])
		}
		v, err := strconv.ParseFloat(strings.Fields(rest + " 0")[0], 64)
		if err == nil {
			m[name] += v
		}
	}
	return m, sc.Err()
}

// xmlrpc calls method over /RPC2 with Content-Type text/xml and returns
// the fault code (0 for none) and the raw reply.
func (d *Daemon) xmlrpc(ctx context.Context, method string, params ...any) (int, string, error) {
	return d.rawXMLRPC(ctx, xmlCall(method, params...))
}

// rawXMLRPC posts body to /RPC2 as text/xml.
func (d *Daemon) rawXMLRPC(ctx context.Context, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://tend/RPC2", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != 200 {
		return 0, string(data), &httpError{resp.StatusCode, string(data)}
	}
	if m := faultRE.FindSubmatch(data); m != nil {
		code, _ := strconv.Atoi(string(m[1]))
		return code, string(data), nil
	}
	return 0, string(data), nil
}

var faultRE = regexp.MustCompile(`(?s)<fault>.*?<name>faultCode</name>\s*<value>\s*<(?:int|i4)>(-?\d+)<`)

// xmlCall encodes an XML-RPC call with string, int and bool parameters.
func xmlCall(method string, params ...any) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>`)
	xmlEscape(&b, method)
	b.WriteString(`</methodName><params>`)
	for _, p := range params {
		b.WriteString(`<param><value>`)
		switch v := p.(type) {
		case string:
			b.WriteString(`<string>`)
			xmlEscape(&b, v)
			b.WriteString(`</string>`)
		case int:
			fmt.Fprintf(&b, `<int>%d</int>`, v)
		case bool:
			fmt.Fprintf(&b, `<boolean>%d</boolean>`, map[bool]int{false: 0, true: 1}[v])
		}
		b.WriteString(`</value></param>`)
	}
	b.WriteString(`</params></methodCall>`)
	return b.Bytes()
}

func xmlEscape(b *bytes.Buffer, s string) {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	b.WriteString(r.Replace(s))
}

// timed measures f.
func timed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}

// answers reports how long `tend status` took via the CLI (or -1 if it
// did not answer within timeout).
func (d *Daemon) answers(ctx context.Context, timeout time.Duration) time.Duration {
	var rc int
	dt := timed(func() { _, rc = d.ctl(ctx, timeout, "status") })
	if rc < 0 {
		return -1
	}
	return dt
}
