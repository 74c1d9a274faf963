package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// check is one polled check, shared by ready (is the process up yet?)
// and probe (is it still alive?): exactly one field is set.
type check struct {
	HTTP   string     // a URL: passes on 2xx or 3xx
	TCP    string     // host:port: passes when a connection succeeds
	Exec   string     // a shell command: passes when it exits 0
	Script ReadyCheck // the config's function: passes when it returns true
}

// checkResult is the outcome of one try: detail says why it passed or,
// when it failed, what went wrong ("GET http://x/healthz: 503").
type checkResult struct {
	ok     bool
	detail string
}

// runCheck runs one try of c under ctx; timeout is ctx's bound, named in
// the detail when it runs out. It never holds Engine.mu while it waits.
func (p *process) runCheck(ctx context.Context, c check, env []string, timeout time.Duration) checkResult {
	late := func(what string, err error) checkResult {
		if ctx.Err() == context.DeadlineExceeded {
			return checkResult{detail: what + ": no answer within " + FormatSeconds(timeout)}
		}
		return checkResult{detail: what + ": " + err.Error()}
	}
	switch {
	case c.HTTP != "":
		what := "GET " + c.HTTP
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.HTTP, nil)
		if err != nil {
			return checkResult{detail: what + ": " + err.Error()}
		}
		client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL is already in what
			}
			return late(what, err)
		}
		resp.Body.Close()
		ok := resp.StatusCode >= 200 && resp.StatusCode < 400
		if ok {
			return checkResult{ok: true, detail: "http " + resp.Status}
		}
		return checkResult{detail: what + ": " + strconv.Itoa(resp.StatusCode)}
	case c.TCP != "":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.TCP)
		if err != nil {
			return late("connect "+c.TCP, err)
		}
		conn.Close()
		return checkResult{ok: true, detail: "tcp " + c.TCP + " accepts"}
	case c.Exec != "":
		if err := runCheckExec(ctx, c.Exec, env); err != nil {
			return late(fmt.Sprintf("exec %q", c.Exec), err)
		}
		return checkResult{ok: true, detail: "exec exited 0"}
	case c.Script != nil:
		p.e.mu.Lock()
		info := p.infoLocked(p.e.clock.Now())
		p.e.mu.Unlock()
		ok, err := safeScriptCheck(ctx, c.Script, info)
		switch {
		case err != nil:
			p.logf(slog.LevelWarn, "check of %s failed: %v", info.Name, err)
			return late("check", err)
		case !ok:
			return checkResult{detail: "check returned false"}
		}
		return checkResult{ok: true, detail: "check returned true"}
	}
	return checkResult{detail: "no check"}
}

// runCheckExec runs cmd with sh -c in a process group of its own, killed
// whole when ctx ends. The engine's reaper only waits for pids it
// spawned, so exec.Cmd.Wait keeps its own child's status.
func runCheckExec(ctx context.Context, cmd string, env []string) error {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Env = env
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = time.Second
	return c.Run()
}

func safeScriptCheck(ctx context.Context, c ReadyCheck, info Info) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Ready(ctx, info)
}

// sleepClock waits d on the engine's clock; false when ctx ended first.
func sleepClock(ctx context.Context, c Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	done := make(chan struct{})
	stop := c.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-ctx.Done():
		stop()
		return false
	}
}

// FormatSeconds formats a duration as tend's messages show it ("60s",
// "0.5s").
func FormatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// checkString writes a check's fields as a config would ("http=URL
// period=5s"), for tend check; fields left at 0 or "" are left out.
func checkString(c check, fields ...any) string {
	var parts []string
	for _, kv := range [][2]string{{"http", c.HTTP}, {"tcp", c.TCP}, {"exec", strconv.Quote(c.Exec)}} {
		if kv[1] != "" && kv[1] != `""` {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if c.Script != nil {
		parts = append(parts, "check=function")
	}
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		switch v := fields[i+1].(type) {
		case time.Duration:
			if v > 0 {
				parts = append(parts, name+"="+FormatSeconds(v))
			}
		case int:
			if v > 0 {
				parts = append(parts, name+"="+strconv.Itoa(v))
			}
		case string:
			if v != "" {
				parts = append(parts, name+"="+v)
			}
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// String shows the ready option as tend check prints it.
func (r *ReadySpec) String() string {
	if r == nil {
		return "-"
	}
	notify := ""
	if r.Notify {
		notify = "systemd"
	}
	log := ""
	if r.Log != "" {
		log = strconv.Quote(r.Log)
	}
	return checkString(r.check(), "notify", notify, "notify_access", r.NotifyAccess, "fd", r.FD, "log", log,
		"timeout", r.Timeout, "period", r.Period, "initial_delay", r.InitialDelay)
}

// String shows the probe option as tend check prints it.
func (r *ProbeSpec) String() string {
	if r == nil {
		return "-"
	}
	return checkString(r.check(), "period", r.Period, "timeout", r.Timeout, "initial_delay", r.InitialDelay,
		"failure_threshold", r.FailureThreshold, "success_threshold", r.SuccessThreshold)
}
