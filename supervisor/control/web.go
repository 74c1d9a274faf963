package control

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

//go:embed webui/index.html webui/app.js webui/style.css
var webAssets embed.FS

// webPage serves the web page: supervisord's status page (same columns,
// buttons and messages) made live, with a followed log view and group
// filtering. Actions are POST only and need the per-server CSRF token
// embedded in the page, plus a same-origin Origin or Referer when the
// browser sends one: supervisord's GET actions could be triggered by any
// page the operator visited.
//
// The HTML is filled in by hand rather than with html/template: that
// package's reflection (MethodByName) stops the linker from dropping unused
// methods, which made the daemon binary 3 MB and its resident memory
// 1.8 MB bigger.
type webPage struct {
	s     *Server
	token string
	index string // webui/index.html with {{NAME}} slots
}

// routesWeb registers the page (/ and /index.html), its assets, its JSON
// status and event stream, its actions, and supervisord's tail.html.
func (s *Server) routesWeb() {
	var raw [32]byte
	rand.Read(raw[:]) // crypto/rand.Read never fails (it aborts the program instead)
	index, err := webAssets.ReadFile("webui/index.html")
	if err != nil {
		panic("control: webui/index.html is not embedded: " + err.Error()) // a build defect
	}
	p := &webPage{s: s, token: hex.EncodeToString(raw[:]), index: string(index)}
	s.mux.HandleFunc("GET /{$}", p.serveIndex)
	s.mux.HandleFunc("GET /index.html", p.serveIndex)
	s.mux.HandleFunc("GET /ui/app.js", webAsset("webui/app.js", "text/javascript; charset=utf-8"))
	s.mux.HandleFunc("GET /ui/style.css", webAsset("webui/style.css", "text/css; charset=utf-8"))
	s.mux.HandleFunc("GET /stylesheets/supervisor.css", webAsset("webui/style.css", "text/css; charset=utf-8"))
	s.mux.HandleFunc("GET /ui/status", p.serveStatus)
	s.mux.HandleFunc("GET /ui/events", p.serveEvents)
	s.mux.HandleFunc("GET /ui/usage", p.serveUsage)
	s.mux.HandleFunc("POST /ui/action", p.serveAction)
	s.mux.HandleFunc("GET /tail.html", p.serveTail)
}

// webNoCache sets supervisord's no-cache headers.
func webNoCache(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Pragma", "no-cache")
	h.Set("Cache-Control", "no-cache")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
}

func webAsset(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := webAssets.ReadFile(name)
		if err != nil {
			http.Error(w, "asset "+name+" missing: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(data)
	}
}

// webRow is one process as the page shows it.
type webRow struct {
	Namespec    string `json:"namespec"`
	Name        string `json:"name"`
	Group       string `json:"group"`
	State       string `json:"state"` // lower case, as supervisord's page
	StateName   string `json:"statename"`
	Class       string `json:"class"`
	Description string `json:"description"`
	Pid         int    `json:"pid"`
	Start       int64  `json:"start"`
	Restarts    int    `json:"restarts"`
	// Exit is how the last run ended ("exit 1", "SIGTERM"), ExitTime
	// when (epoch seconds); both unset before the first end.
	Exit     string `json:"exit"`
	ExitTime int64  `json:"exit_time"`
	// Limit is why a limit (max_memory, start_limit, permanent_exitcodes)
	// last acted; StartFailures and MemoryRestarts are what they count.
	Limit          string `json:"limit,omitempty"`
	StartFailures  int    `json:"start_failures,omitempty"`
	MemoryRestarts int    `json:"memory_restarts,omitempty"`
}

// webSnapshot is the body of /ui/status and of each status event.
type webSnapshot struct {
	Processes []webRow `json:"processes"`
	Now       float64  `json:"now"`
}

// webStateClass is supervisord's CSS class for a state.
func webStateClass(st supervisor.State) string {
	switch st {
	case supervisor.Running:
		return "statusrunning"
	case supervisor.Fatal, supervisor.Backoff:
		return "statuserror"
	}
	return "statusnominal"
}

func (p *webPage) snapshot() webSnapshot { return webSnapshotOf(p.s.eng.Status()) }

// webExit says how a process's last run ended, "" before the first end.
func webExit(i supervisor.Info) string {
	switch {
	case i.Stop.IsZero():
		return ""
	case i.ExitSignal != 0:
		return "SIG" + supervisor.SignalName(i.ExitSignal)
	}
	return "exit " + strconv.Itoa(i.ExitStatus)
}

func webSnapshotOf(infos []supervisor.Info) webSnapshot {
	out := webSnapshot{Processes: make([]webRow, 0, len(infos)), Now: float64(time.Now().UnixMilli()) / 1000}
	for _, i := range infos {
		name := i.State.String()
		out.Processes = append(out.Processes, webRow{
			Namespec: i.Namespec(), Name: i.Name, Group: i.Group,
			State: webLower(name), StateName: name, Class: webStateClass(i.State),
			Description: i.Description(), Pid: i.Pid, Start: xrEpoch(i.Start),
			Restarts: i.Restarts, Exit: webExit(i), ExitTime: xrEpoch(i.Stop),
			Limit: i.LimitReason, StartFailures: i.StartFailures, MemoryRestarts: i.MemoryRestarts,
		})
	}
	return out
}

func webLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// serveIndex renders the whole page on the server, so it works without
// JavaScript: ?group= and ?filter= (a case-insensitive substring of the
// name; blank shows everything) pick the rows, and every action is a form
// posting to ui/action with the CSRF token. app.js then keeps it live.
func (p *webPage) serveIndex(w http.ResponseWriter, r *http.Request) {
	infos := p.s.eng.Status()
	us := p.s.eng.Usage(infos)
	snap := webSnapshotOf(infos)
	q := r.URL.Query()
	group := q.Get("group")
	filter := strings.TrimSpace(q.Get("filter"))
	var groups []string
	for _, row := range snap.Processes {
		if !slices.Contains(groups, row.Group) {
			groups = append(groups, row.Group)
		}
	}
	slices.Sort(groups)
	if !slices.Contains(groups, group) {
		group = ""
	}
	e := html.EscapeString
	var opts, rows strings.Builder
	for _, g := range groups {
		sel := ""
		if g == group {
			sel = " selected"
		}
		opts.WriteString(`<option value="` + e(g) + `"` + sel + ">" + e(g) + "</option>")
	}
	i := 0
	for n, row := range snap.Processes {
		if webShown(row, group, filter) {
			webWriteRow(&rows, i, row, us[n], p.token)
			i++
		}
	}
	view := url.Values{}
	if group != "" {
		view.Set("group", group)
	}
	if filter != "" {
		view.Set("filter", filter)
	}
	viewQuery := ""
	if len(view) > 0 {
		viewQuery = "?" + view.Encode()
	}
	groupHidden := ""
	if group == "" {
		groupHidden = " hidden"
	}
	page := strings.NewReplacer(
		"{{TOKEN}}", p.token,
		"{{MESSAGE}}", e(q.Get("message")),
		"{{GROUPS}}", opts.String(),
		"{{GROUP}}", e(group),
		"{{GROUPHIDDEN}}", groupHidden,
		"{{FILTER}}", e(filter),
		"{{VIEWQUERY}}", e(viewQuery),
		"{{ROWS}}", rows.String(),
		"{{VERSION}}", e(p.s.opts.Version),
		"{{SUPERVISOR}}", SupervisorVersion,
	).Replace(p.index)
	webNoCache(w)
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.Write([]byte(page))
}

// webShown reports whether a row passes the page's group and name filter
// (app.js applies the same rule).
func webShown(row webRow, group, filter string) bool {
	if group != "" && row.Group != group {
		return false
	}
	return filter == "" || strings.Contains(strings.ToLower(row.Namespec), strings.ToLower(filter))
}

func (p *webPage) serveStatus(w http.ResponseWriter, r *http.Request) {
	webNoCache(w)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(p.snapshot())
}

// serveEvents is a server-sent event stream: a "status" event with the
// whole table on connect and after every state change (bursts coalesced),
// driven by the engine's event bus. A comment line every 25 s keeps
// proxies from closing an idle stream.
func (p *webPage) serveEvents(w http.ResponseWriter, r *http.Request) {
	sub := p.s.eng.Subscribe(64)
	defer sub.Close()
	webNoCache(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	send := func() bool {
		data, err := json.Marshal(p.snapshot())
		if err != nil {
			return false
		}
		if _, err := w.Write(append(append([]byte("event: status\ndata: "), data...), "\n\n"...)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case ev := <-sub.C:
			if ev.Type == supervisor.EventProcessLogStdout || ev.Type == supervisor.EventProcessLogStderr {
				continue
			}
			// Coalesce a burst (stop all, a reload) into one update.
			for drained := false; !drained; {
				select {
				case <-sub.C:
				default:
					drained = true
				}
			}
			if !send() {
				return
			}
		}
	}
}

// serveTail is supervisord's tail.html: the last 1024 bytes of a log.
func (p *webPage) serveTail(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("processname")
	limit := int64(1024)
	if n, err := strconv.ParseInt(r.URL.Query().Get("limit"), 10, 64); err == nil && n > 0 {
		limit = n
	}
	data, err := p.s.eng.ReadLog(name, "stdout", -limit, 0)
	text := string(data)
	if err != nil {
		text = "ERROR: " + err.Error()
	}
	webNoCache(w)
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	e := html.EscapeString
	w.Write([]byte(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Supervisor tail of process ` + e(name) + `</title>
<link rel="stylesheet" href="ui/style.css"></head>
<body><h1>Supervisor tail of process ` + e(name) + `</h1>
<p><a href="tail.html?processname=` + e(url.QueryEscape(name)) + `&amp;limit=` + strconv.FormatInt(limit, 10) + `">Refresh</a></p>
<pre id="log">` + e(text) + `</pre></body></html>
`))
}

// webWriteRow writes one process row of the status table, every value
// escaped for its HTML context; odd rows get supervisord's "shade" class.
// Its actions are one form whose buttons post to ui/action with the CSRF
// token, and a Tail link, as app.js renders them too.
func webWriteRow(b *strings.Builder, i int, row webRow, u supervisor.Usage, token string) {
	e := html.EscapeString
	shade := ""
	if i%2 == 1 {
		shade = ` class="shade"`
	}
	name := e(row.Namespec)
	tail := "tail.html?processname=" + e(url.QueryEscape(row.Namespec))
	b.WriteString(`<tr data-name="` + name + `" data-group="` + e(row.Group) + `"` + shade + `>
    <td class="state"><span class="` + e(row.Class) + `">` + e(row.State) + `</span></td>
    <td class="desc">` + e(row.Description) + `</td>
    <td class="name"><a href="` + tail + `" target="_blank">` + name + `</a></td>
    <td class="cpu">` + webCPU(u) + `</td>
    <td class="mem">` + webMem(u) + `</td>
    <td class="restarts">` + strconv.Itoa(row.Restarts) + `</td>
    <td class="exit">` + e(row.Exit) + `</td>
    <td class="actions"><form class="act" method="post" action="ui/action"><input type="hidden" name="csrf" value="` + token +
		`"><input type="hidden" name="name" value="` + name + `">`)
	for _, a := range webActions(row.StateName) {
		b.WriteString(`<button name="action" value="` + a.action + `" data-action="` + a.action + `" data-name="` + name + `">` + a.label + `</button> `)
	}
	b.WriteString(`</form><a class="button" href="` + tail + `" data-action="tail" data-name="` + name + `">Tail</a></td>
  </tr>`)
}

// webCPU and webMem are a row's figures as app.js writes them too; blank
// for a process that is not running.
func webCPU(u supervisor.Usage) string {
	if u.Pid == 0 {
		return ""
	}
	return strconv.FormatFloat(u.CPUPercent, 'f', 1, 64) + "%"
}

func webMem(u supervisor.Usage) string {
	if u.Pid == 0 {
		return ""
	}
	return supervisor.FormatSize(u.RSS)
}

// webAction is one button of a process row.
type webAction struct{ label, action string }

// webActions are a row's buttons for a state, as on supervisord's page
// (app.js's actionsFor is the same table).
func webActions(state string) []webAction {
	var out []webAction
	switch state {
	case "RUNNING":
		out = append(out, webAction{"Restart", "restart"}, webAction{"Stop", "stop"})
	case "STOPPED", "EXITED", "FATAL":
		out = append(out, webAction{"Start", "start"})
	case "STARTING", "BACKOFF":
		out = append(out, webAction{"Stop", "stop"})
	}
	return append(out, webAction{"Clear Log", "clear"})
}
