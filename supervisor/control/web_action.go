package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// webActionTimeout bounds an action that waits (start waits for RUNNING).
const webActionTimeout = 2 * time.Minute

// sameOrigin checks the Origin header, or failing that the Referer, against
// the request's host. A request carrying neither is left to the token.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	return src == "" || originMatches(src, r.Host)
}

// serveAction runs one page action (start, stop, restart, clear for a
// process; startgroup, stopgroup, restartgroup for a group; restartall,
// stopall) with supervisord's wording. app.js sends the token in the
// X-CSRF-Token header and gets {"ok":..., "message":...}; a plain form
// (no JavaScript: a text browser, a script) sends it as the csrf field and
// is redirected back to the page showing the message, as supervisord's
// page does.
func (p *webPage) serveAction(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		webJSON(w, http.StatusBadRequest, false, "bad form: "+err.Error())
		return
	}
	script := r.Header.Get("X-CSRF-Token") != ""
	token := r.Header.Get("X-CSRF-Token")
	if !script {
		token = r.PostForm.Get("csrf")
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(p.token)) != 1 || !sameOrigin(r) {
		webJSON(w, http.StatusForbidden, false, "forbidden: missing or wrong CSRF token, or cross-origin request")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webActionTimeout)
	defer cancel()
	msg, ok := p.act(ctx, r.PostForm.Get("action"), r.PostForm.Get("name"))
	if !script {
		// Relative, so the page works behind a proxy that mounts it
		// under a path; 303 makes the browser GET it.
		w.Header().Set("Location", "../?"+url.Values{"message": {msg}}.Encode())
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusConflict
	}
	webJSON(w, status, ok, msg)
}

func webJSON(w http.ResponseWriter, status int, ok bool, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"ok": ok, "message": msg})
}

// act performs an action and returns the status message the page shows.
func (p *webPage) act(ctx context.Context, action, name string) (string, bool) {
	eng := p.s.eng
	if eng.ShuttingDown() {
		return "ERROR: supervisor is shutting down", false
	}
	now := time.Now().Format("Mon Jan _2 15:04:05 2006")
	switch action {
	case "stopall":
		eng.Stop(ctx, supervisor.AllTarget, true)
		return "All stopped at " + now, true
	case "restartall":
		eng.Restart(ctx, supervisor.AllTarget, false)
		return "All restarted at " + now, true
	case "startgroup", "stopgroup", "restartgroup":
		return p.actGroup(ctx, action, name)
	case "start", "stop", "restart", "clear":
	default:
		return fmt.Sprintf("ERROR: unknown action %q", action), false
	}
	if _, err := eng.Info(name); err != nil {
		return "No such process named " + name, false
	}
	var err error
	switch action {
	case "start":
		if err = eng.StartProcess(ctx, name, true); err == nil {
			return "Process " + name + " started", true
		}
	case "stop":
		if err = eng.StopProcess(ctx, name, true); err == nil {
			return "Process " + name + " stopped", true
		}
	case "restart":
		stopped, started, rerr := eng.Restart(ctx, supervisor.ParseNamespec(name), true)
		if err = oneErr(stopped, rerr); err != nil && supervisor.FaultOf(err) != supervisor.FaultNotRunning {
			break
		}
		if err = oneErr(started, rerr); err == nil {
			return "Process " + name + " restarted", true
		}
	case "clear":
		if err = oneErr(eng.Clear(supervisor.ParseNamespec(name))); err == nil {
			return "Log for " + name + " cleared", true
		}
	}
	return "ERROR: Process " + name + ": " + webFaultText(err), false
}

// actGroup starts, stops or restarts every process of a group.
func (p *webPage) actGroup(ctx context.Context, action, group string) (string, bool) {
	eng := p.s.eng
	t := supervisor.ParseTarget(group + ":*")
	if group == "" || strings.Contains(group, ":") {
		return "No such group named " + group, false
	}
	var rs []supervisor.Result
	var err error
	var done string
	switch action {
	case "startgroup":
		rs, err = eng.Start(ctx, t, true)
		done = "started"
	case "stopgroup":
		rs, err = eng.Stop(ctx, t, true)
		done = "stopped"
	default:
		var stopped []supervisor.Result
		stopped, rs, err = eng.Restart(ctx, t, true)
		rs = append(stopped, rs...)
		done = "restarted"
	}
	if supervisor.FaultOf(err) == supervisor.FaultBadName {
		return "No such group named " + group, false
	}
	if err != nil {
		return "ERROR: Group " + group + ": " + webFaultText(err), false
	}
	var failed []string
	for _, r := range rs {
		if r.Err != nil && r.Fault != supervisor.FaultNotRunning {
			failed = append(failed, "Process "+supervisor.Namespec(r.Group, r.Name)+": "+webFaultText(r.Err))
		}
	}
	if len(failed) > 0 {
		return "ERROR: " + strings.Join(failed, "; "), false
	}
	return "Group " + group + " " + done, true
}

// webFaultText is the wording of supervisord's page for a fault.
func webFaultText(err error) string {
	switch supervisor.FaultOf(err) {
	case supervisor.FaultNoFile:
		return "no such file"
	case supervisor.FaultNotExecutable:
		return "file not executable"
	case supervisor.FaultAlreadyStarted:
		return "already started"
	case supervisor.FaultSpawnError:
		return "spawn error"
	case supervisor.FaultAbnormalTermination:
		return "abnormal termination"
	case supervisor.FaultNotRunning:
		return "not running"
	}
	code, msg := xrFaultOf(err)
	return fmt.Sprintf("unexpected rpc fault [%d] %s", int(code), msg)
}
