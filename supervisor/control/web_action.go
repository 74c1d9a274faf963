package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
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

// serveAction runs one page action (start, stop, restart, clear,
// restartall, stopall) and answers {"ok":..., "message":...} with
// supervisord's wording.
func (p *webPage) serveAction(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(p.token)) != 1 || !sameOrigin(r) {
		webJSON(w, http.StatusForbidden, false, "forbidden: missing or wrong CSRF token, or cross-origin request")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		webJSON(w, http.StatusBadRequest, false, "bad form: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webActionTimeout)
	defer cancel()
	msg, ok := p.act(ctx, r.PostForm.Get("action"), r.PostForm.Get("name"))
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
