package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// webGet fetches a path over TCP with the env's credentials.
func (env *xrtEnv) webDo(t *testing.T, method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+env.tcp+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if env.user != "" {
		req.SetBasicAuth(env.user, env.pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// webToken extracts the CSRF token from the page.
func webToken(t *testing.T, page string) string {
	_, rest, ok := strings.Cut(page, `<meta name="csrf-token" content="`)
	tok, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || len(tok) != 64 {
		t.Fatalf("no CSRF token in the page")
	}
	return tok
}

func TestWebPage(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")

	// The auth gate covers the page.
	req, _ := http.NewRequest("GET", "http://"+env.tcp+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("page without credentials: %s", resp.Status)
	}

	resp, page := env.webDo(t, "GET", "/?message=hi%20there", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html;charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /: %s %v", resp.Status, resp.Header)
	}
	for _, want := range []string{"<title>Supervisor Status</title>", `data-name="sleeper"`, `class="statusrunning"`,
		`data-name="grp:w1"`, `tail.html?processname=grp%3Aw1` /* as supervisord: pool%3Apool_0 */, "Restart All", "Stop All", `<div class="status_msg" id="msg" role="status">hi there</div>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	tok := webToken(t, page)
	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript", "/ui/style.css": "text/css", "/stylesheets/supervisor.css": "text/css"} {
		if resp, _ := env.webDo(t, "GET", path, nil, nil); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %s %s", path, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
	if resp, _ := env.webDo(t, "GET", "/nosuch.html", nil, nil); resp.StatusCode != 404 {
		t.Errorf("unknown path: %s", resp.Status)
	}

	resp, body := env.webDo(t, "GET", "/ui/status", nil, nil)
	var snap webSnapshot
	if err := json.Unmarshal([]byte(body), &snap); err != nil || len(snap.Processes) != 5 {
		t.Fatalf("/ui/status: %v %s", err, body)
	}

	form := func(action, name string) io.Reader {
		return strings.NewReader(url.Values{"action": {action}, "name": {name}}.Encode())
	}
	formHdr := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	actions := []struct {
		name   string
		action string
		proc   string
		hdr    map[string]string
		code   int
		msg    string
	}{
		{"no token", "stop", "sleeper", nil, 403, "forbidden"},
		{"wrong token", "stop", "sleeper", map[string]string{"X-CSRF-Token": strings.Repeat("0", 64)}, 403, "forbidden"},
		{"cross origin", "stop", "sleeper", map[string]string{"X-CSRF-Token": tok, "Origin": "http://evil.example"}, 403, "forbidden"},
		{"cross referer", "stop", "sleeper", map[string]string{"X-CSRF-Token": tok, "Referer": "http://evil.example/x"}, 403, "forbidden"},
		{"stop", "stop", "sleeper", map[string]string{"X-CSRF-Token": tok, "Origin": "http://" + env.tcp}, 200, "Process sleeper stopped"},
		{"stop again", "stop", "sleeper", map[string]string{"X-CSRF-Token": tok}, 409, "ERROR: Process sleeper: not running"},
		{"start", "start", "sleeper", map[string]string{"X-CSRF-Token": tok, "Referer": "http://" + env.tcp + "/"}, 200, "Process sleeper started"},
		{"start again", "start", "sleeper", map[string]string{"X-CSRF-Token": tok}, 409, "ERROR: Process sleeper: already started"},
		{"restart", "restart", "sleeper", map[string]string{"X-CSRF-Token": tok}, 200, "Process sleeper restarted"},
		{"clear", "clear", "talker", map[string]string{"X-CSRF-Token": tok}, 200, "Log for talker cleared"},
		{"nosuch", "start", "nosuch", map[string]string{"X-CSRF-Token": tok}, 409, "No such process named nosuch"},
		{"bogus", "explode", "sleeper", map[string]string{"X-CSRF-Token": tok}, 409, `ERROR: unknown action "explode"`},
		{"stopall", "stopall", "", map[string]string{"X-CSRF-Token": tok}, 200, "All stopped at "},
		{"restartall", "restartall", "", map[string]string{"X-CSRF-Token": tok}, 200, "All restarted at "},
	}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			resp, body := env.webDo(t, "POST", "/ui/action", form(a.action, a.proc), formHdr(a.hdr))
			var r struct {
				OK      bool   `json:"ok"`
				Message string `json:"message"`
			}
			json.Unmarshal([]byte(body), &r)
			if resp.StatusCode != a.code || !strings.HasPrefix(r.Message, a.msg) {
				t.Errorf("%s %s: %s %q, want %d %q", a.action, a.proc, resp.Status, r.Message, a.code, a.msg)
			}
		})
	}
	// A GET with supervisord's action query does nothing.
	env.webDo(t, "GET", "/index.html?action=stopall", nil, nil)
	env.eng.WaitState("idle", supervisor.Running) // restartall started it, as supervisord does
	if i, _ := env.eng.Info("sleeper"); i.State != supervisor.Running {
		t.Errorf("GET ?action=stopall stopped sleeper")
	}

	resp, body = env.webDo(t, "GET", "/tail.html?processname=idle", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Supervisor tail of process idle") || !strings.Contains(body, `<pre id="log">`) {
		t.Errorf("tail.html: %s %s", resp.Status, body)
	}
}

// TestWebEvents checks that the event stream pushes a new table when a
// process changes state.
func TestWebEvents(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+env.tcp+"/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() webSnapshot {
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var s webSnapshot
				if err := json.Unmarshal([]byte(data), &s); err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return webSnapshot{}
	}
	first := next()
	if len(first.Processes) != 5 {
		t.Fatalf("first snapshot %+v", first)
	}
	if err := env.eng.StopProcess(ctx, "sleeper", false); err != nil {
		t.Fatal(err)
	}
	for {
		s := next()
		for _, p := range s.Processes {
			if p.Name == "sleeper" && (p.StateName == "STOPPING" || p.StateName == "STOPPED") {
				return
			}
		}
	}
}

// webRowNames lists the data-name of every row of a rendered page.
func webRowNames(page string) []string {
	var names []string
	for _, part := range strings.Split(page, "<tr data-name=\"")[1:] {
		name, _, _ := strings.Cut(part, `"`)
		names = append(names, name)
	}
	return names
}

// TestWebPageWithoutJS uses the page as a text browser or a script does:
// only its HTML. Every row's actions are forms carrying the CSRF token,
// a posted form comes back to the page with supervisord's message, the
// group and name filters work from the query, and a group has its own
// start, stop and restart.
func TestWebPageWithoutJS(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")
	env.eng.WaitState("sleeper", supervisor.Running)
	_, page := env.webDo(t, "GET", "/", nil, nil)

	// The sleeper row's form, taken from the HTML.
	_, row, ok := strings.Cut(page, `<tr data-name="sleeper"`)
	row, _, _ = strings.Cut(row, "</tr>")
	if !ok || !strings.Contains(row, `<form class="act" method="post" action="ui/action">`) ||
		!strings.Contains(row, `<button name="action" value="stop"`) || !strings.Contains(row, `href="tail.html?processname=sleeper"`) {
		t.Fatalf("sleeper row has no action form:\n%s", row)
	}
	_, rest, _ := strings.Cut(row, `name="csrf" value="`)
	tok, _, _ := strings.Cut(rest, `"`)
	if tok != webToken(t, page) {
		t.Fatalf("the row's form carries token %q", tok)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(action, name, token string) *http.Response {
		t.Helper()
		body := url.Values{"csrf": {token}, "action": {action}, "name": {name}}.Encode()
		req, _ := http.NewRequest("POST", "http://"+env.tcp+"/ui/action", strings.NewReader(body))
		req.SetBasicAuth(env.user, env.pass)
		// What a browser sends for a form on the page itself.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://"+env.tcp)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		action, name, token string
		code                int
		message             string
		state               map[string]supervisor.State
	}{
		{"stop", "sleeper", "", 403, "", nil},
		{"stop", "sleeper", strings.Repeat("0", 64), 403, "", nil},
		{"stop", "sleeper", tok, 303, "Process sleeper stopped", map[string]supervisor.State{"sleeper": supervisor.Stopped}},
		{"start", "sleeper", tok, 303, "Process sleeper started", map[string]supervisor.State{"sleeper": supervisor.Running}},
		{"stopgroup", "grp", tok, 303, "Group grp stopped", map[string]supervisor.State{"grp:w1": supervisor.Stopped, "grp:w2": supervisor.Stopped}},
		{"startgroup", "grp", tok, 303, "Group grp started", map[string]supervisor.State{"grp:w1": supervisor.Running, "grp:w2": supervisor.Running}},
		{"restartgroup", "grp", tok, 303, "Group grp restarted", map[string]supervisor.State{"grp:w1": supervisor.Running}},
		{"stopgroup", "nosuch", tok, 303, "No such group named nosuch", nil},
		{"stopall", "", tok, 303, "All stopped at ", map[string]supervisor.State{"talker": supervisor.Stopped}},
	} {
		resp := post(c.action, c.name, c.token)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %s, want %d", c.action, c.name, resp.Status, c.code)
			continue
		}
		if c.code != 303 {
			continue
		}
		loc := resp.Header.Get("Location")
		q, err := url.Parse(loc)
		if err != nil || q.Path != "../" || !strings.HasPrefix(q.Query().Get("message"), c.message) {
			t.Errorf("%s %s: redirected to %q, want ../?message=%s", c.action, c.name, loc, c.message)
		}
		for name, st := range c.state {
			if i, _ := env.eng.Info(name); i.State != st {
				t.Errorf("%s %s: %s is %v, want %v", c.action, c.name, name, i.State, st)
			}
		}
		// Where the redirect leads: the page with the message.
		_, page := env.webDo(t, "GET", "/?"+q.RawQuery, nil, nil)
		if !strings.Contains(page, `role="status">`+html.EscapeString(q.Query().Get("message"))+`</div>`) {
			t.Errorf("%s: the page does not show %q", c.action, q.Query().Get("message"))
		}
	}

	all := "grp:w1,grp:w2,idle,sleeper,talker"
	for _, c := range []struct {
		query, rows string
		groupForm   bool
	}{
		{"", all, false},
		{"?filter=", all, false},
		{"?filter=%20%20%20", all, false},
		{"?filter=%20TALK%20", "talker", false},
		{"?group=grp", "grp:w1,grp:w2", true},
		{"?group=grp&filter=w2", "grp:w2", true},
		{"?group=nosuch", all, false},
	} {
		_, page := env.webDo(t, "GET", "/"+c.query, nil, nil)
		if got := strings.Join(webRowNames(page), ","); got != c.rows {
			t.Errorf("GET /%s lists %s, want %s", c.query, got, c.rows)
		}
		shown := strings.Contains(page, `id="groupactions" method="post" action="ui/action"><input`)
		if shown != c.groupForm {
			t.Errorf("GET /%s: group actions shown %v, want %v", c.query, shown, c.groupForm)
		}
	}
}

// /ui/usage samples every process and answers its figures and the
// history points after since=, in one reply; the page rendered without
// JavaScript shows the same figures, restarts and last exit.
func TestWebUsage(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	env.eng.WaitState("sleeper", supervisor.Running)
	var u webUsage
	get := func(query string) {
		t.Helper()
		resp, body := env.webDo(t, "GET", "/ui/usage"+query, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /ui/usage%s: %s %s", query, resp.Status, body)
		}
		u = webUsage{}
		if err := json.Unmarshal([]byte(body), &u); err != nil {
			t.Fatal(err)
		}
	}
	// A child just exec'd may not have run yet and have no memory to
	// show: ask again until the sleeper has its point.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		get("")
		if len(u.Procs["sleeper"].T) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(u.Procs) != 5 || u.Step != 5 || u.Now == 0 {
		t.Fatalf("usage %+v", u)
	}
	s, idle := u.Procs["sleeper"], u.Procs["idle"]
	if !s.Run || s.RSS <= 0 || len(s.T) != 1 || len(s.C) != 1 || len(s.M) != 1 || s.M[0] <= 0 {
		t.Fatalf("sleeper %+v: want running, with memory and the one point this request recorded", s)
	}
	if idle.Run || idle.RSS != 0 || len(idle.T) != 0 {
		t.Errorf("idle (not started) %+v: want no figures and no points", idle)
	}
	get(fmt.Sprintf("?since=%.3f", float64(s.T[0])/1000))
	for name, p := range u.Procs {
		for _, at := range p.T {
			if at <= s.T[0] {
				t.Errorf("%s: point at %d not after since=%d", name, at, s.T[0])
			}
		}
	}
	if resp, _ := env.webDo(t, "GET", "/ui/usage?since=yesterday", nil, nil); resp.StatusCode != 400 {
		t.Errorf("since=yesterday: %s, want 400", resp.Status)
	}

	if err := env.eng.StopProcess(context.Background(), "talker", true); err != nil {
		t.Fatal(err)
	}
	_, page := env.webDo(t, "GET", "/", nil, nil)
	cell := func(name, class string) string {
		_, row, _ := strings.Cut(page, `<tr data-name="`+name+`"`)
		_, c, _ := strings.Cut(row, `<td class="`+class+`">`)
		c, _, _ = strings.Cut(c, "</td>")
		return c
	}
	if c := cell("sleeper", "cpu"); !strings.HasSuffix(c, "%") {
		t.Errorf("sleeper's CPU cell %q", c)
	}
	if c := cell("sleeper", "mem"); !strings.HasSuffix(c, "iB") {
		t.Errorf("sleeper's memory cell %q", c)
	}
	if c, r, e := cell("talker", "cpu"), cell("talker", "restarts"), cell("talker", "exit"); c != "" || r != "0" || e != "SIGTERM" {
		t.Errorf("stopped talker: cpu %q restarts %q exit %q", c, r, e)
	}
}
