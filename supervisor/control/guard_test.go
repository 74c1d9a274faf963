package control

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// guardDoor is a state-changing door, the body its real client sends, and
// how to tell that a request through it took effect.
type guardDoor struct {
	name, path, ctype string
	body              string
	took              func(env *xrtEnv) bool
	undo              func(t *testing.T, env *xrtEnv)
}

func guardDoors() []guardDoor {
	stopped := func(env *xrtEnv) bool {
		i, err := env.eng.Info("sleeper")
		return err == nil && i.State != supervisor.Running
	}
	restart := func(t *testing.T, env *xrtEnv) {
		t.Helper()
		if err := env.eng.StartProcess(context.Background(), "sleeper", true); err != nil {
			t.Fatal(err)
		}
	}
	evals := 0
	evaluated := func(env *xrtEnv) bool {
		env.daemon.mu.Lock()
		defer env.daemon.mu.Unlock()
		return env.daemon.evals > evals
	}
	reset := func(t *testing.T, env *xrtEnv) {
		env.daemon.mu.Lock()
		evals = env.daemon.evals
		env.daemon.mu.Unlock()
	}
	return []guardDoor{
		{"json stop", "/v1/stop", "application/json", `{"names":["sleeper"]}`, stopped, restart},
		{"xmlrpc stopProcess", "/RPC2", "text/xml", string(xrtRequest("supervisor.stopProcess", "sleeper")), stopped, restart},
		{"json eval", "/v1/eval", "application/json", `{"chunk":"sv.stop('sleeper')"}`, evaluated, reset},
	}
}

// guardPost posts body to the env's TCP door with basic auth (a browser
// that opened the web page holds the credentials) and the given headers.
// ctype "" sends the door's own type, "-" none.
func guardPost(t *testing.T, env *xrtEnv, d guardDoor, ctype string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+env.tcp+d.path, strings.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(env.user, env.pass)
	switch ctype {
	case "":
		req.Header.Set("Content-Type", d.ctype)
	case "-":
	default:
		req.Header.Set("Content-Type", ctype)
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
	return resp.StatusCode, string(data)
}

// TestCrossSiteAttack is issue 11's defect 3: a page on another site made
// the browser POST text/plain bodies, with the cached basic-auth
// credentials, to /v1/stop, /RPC2 and /v1/eval, and each one acted. Every
// request a browser can send cross-site without a preflight must now be
// refused and do nothing, while what supervisorctl, the tend client and a
// same-origin page send still works.
func TestCrossSiteAttack(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")
	self := "http://" + env.tcp
	_, port, _ := strings.Cut(env.tcp, ":")
	otherPort := "http://127.0.0.1:1" + port // same host, another port: same-site, not same-origin
	evil := "http://evil.example"

	cases := []struct {
		name  string
		ctype string
		hdr   map[string]string
		want  int // 200: must take effect; anything else: must not
	}{
		// What a page on another site can send without a preflight.
		{"text/plain, no Origin (old browser)", "text/plain", nil, 415},
		{"text/plain from another site", "text/plain;charset=UTF-8", map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site"}, 403},
		{"text/plain, Origin only", "text/plain", map[string]string{"Origin": evil}, 403},
		{"text/plain, Sec-Fetch-Site only", "text/plain", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"form from another site", "application/x-www-form-urlencoded", map[string]string{"Origin": evil}, 403},
		{"form, no Origin", "application/x-www-form-urlencoded", nil, 415},
		{"multipart, no Origin", "multipart/form-data; boundary=x", nil, 415},
		{"no content type, no Origin", "-", nil, 415},
		{"no content type from another site", "-", map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site"}, 403},
		{"sandboxed frame (Origin null)", "text/plain", map[string]string{"Origin": "null"}, 403},
		// The door's own type with a foreign marker (a browser would need
		// a preflight to send it, but refuse it anyway).
		{"right type, foreign Origin", "", map[string]string{"Origin": evil}, 403},
		{"right type, Origin null", "", map[string]string{"Origin": "null"}, 403},
		{"right type, same host other port", "", map[string]string{"Origin": otherPort}, 403},
		{"right type, Sec-Fetch-Site cross-site", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"right type, Sec-Fetch-Site same-site", "", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		// Real clients.
		{"non-browser client", "", nil, 200},
		{"same-origin page", "", map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin"}, 200},
		{"user-initiated (Sec-Fetch-Site none)", "", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"Origin with upper-case host", "", map[string]string{"Origin": "HTTP://" + strings.ToUpper(env.tcp)}, 200},
	}
	for _, d := range guardDoors() {
		for _, c := range cases {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				code, body := guardPost(t, env, d, c.ctype, c.hdr)
				took := d.took(env)
				if took {
					d.undo(t, env)
				}
				if c.want == 200 {
					if code != 200 || !took {
						t.Fatalf("a real client's request: %d %q, took effect %v", code, body, took)
					}
					return
				}
				if took || code != c.want {
					t.Fatalf("attack: %d %q, took effect %v; want %d and nothing done", code, body, took, c.want)
				}
				if !strings.Contains(body, "forbidden") && !strings.Contains(body, "content type") {
					t.Errorf("refusal body does not say why: %q", body)
				}
			})
		}
	}
}

// TestCrossSiteContentTypes: each door accepts the types its real clients
// send, parameters included, and nothing else.
func TestCrossSiteContentTypes(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")
	doors := guardDoors()
	cases := []struct {
		door  int
		ctype string
		ok    bool
	}{
		{0, "application/json; charset=utf-8", true},
		{0, "Application/JSON", true},
		{0, "text/xml", false},
		{0, "application/json-seq", false},
		{1, "text/xml", true},
		{1, "text/xml; charset=utf-8", true}, // Ruby, PHP clients
		{1, "application/xml", true},
		{1, "application/json", false},
		{1, "text/html", false},
		{2, "application/json", true},
		{2, "text/x-lua", false},
	}
	for _, c := range cases {
		d := doors[c.door]
		t.Run(d.name+"/"+c.ctype, func(t *testing.T) {
			code, body := guardPost(t, env, d, c.ctype, nil)
			took := d.took(env)
			if took {
				d.undo(t, env)
			}
			if c.ok != (code == 200 && took) || !c.ok && code != 415 {
				t.Fatalf("%s: %d %q, took effect %v; want accepted=%v", c.ctype, code, body, took, c.ok)
			}
		})
	}
}

// TestCrossSiteReads: GETs change nothing, but a page on another site may
// not use them as subresources (holding follow streams, timing replies);
// following a link from another site to the page still works, and every
// answer forbids framing.
func TestCrossSiteReads(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")
	cases := []struct {
		path string
		hdr  map[string]string
		want int
	}{
		{"/", nil, 200},
		{"/", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200},
		{"/", map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, 200},
		{"/ui/status", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, 200},
		{"/ui/status", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, 403},
		{"/v1/status", map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}, 403},
		{"/logtail/sleeper", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 403},
		{"/metrics", nil, 200},
		{"/v1/status", nil, 200},
		// The figures: a request samples /proc, so no other site may drive it.
		{"/ui/usage", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, 200},
		{"/ui/usage", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, 403},
		{"/v1/usage/history", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, 403},
		{"/v1/config?name=sleeper", map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors"}, 403},
		{"/v1/config?name=sleeper", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, 200},
	}
	for _, c := range cases {
		t.Run(c.path+"/"+c.hdr["Sec-Fetch-Site"]+"/"+c.hdr["Sec-Fetch-Mode"], func(t *testing.T) {
			// A bounded client: a wrongly admitted /logtail would stream
			// forever.
			req, _ := http.NewRequest("GET", "http://"+env.tcp+c.path, nil)
			req.SetBasicAuth(env.user, env.pass)
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("GET %s %v: %s, want %d", c.path, c.hdr, resp.Status, c.want)
			}
			if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("GET %s: framing not forbidden: %v", c.path, resp.Header)
			}
		})
	}
}

// TestCrossSitePageActions: the web page's own POST (form body, CSRF
// token, same-origin Origin and Sec-Fetch-Site, as Chromium sends it)
// still works; the same request marked cross-site does not.
func TestCrossSitePageActions(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")
	_, page := env.webDo(t, "GET", "/", nil, map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"})
	tok := webToken(t, page)
	form := url.Values{"action": {"stop"}, "name": {"sleeper"}}.Encode()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", "X-CSRF-Token": tok,
		"Origin": "http://" + env.tcp, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
	if resp, body := env.webDo(t, "POST", "/ui/action", strings.NewReader(form), hdr); resp.StatusCode != 403 {
		t.Fatalf("cross-site action with the token: %s %s", resp.Status, body)
	}
	hdr["Sec-Fetch-Site"] = "same-origin"
	if resp, body := env.webDo(t, "POST", "/ui/action", strings.NewReader(form), hdr); resp.StatusCode != 200 || !strings.Contains(body, "Process sleeper stopped") {
		t.Fatalf("the page's own action: %s %s", resp.Status, body)
	}
}

// TestCrossSitePythonClient: Python's xmlrpc.client (what supervisorctl
// and Ansible's supervisorctl module are built on) still drives the TCP
// door with basic auth.
func TestCrossSitePythonClient(t *testing.T) {
	py := testkit.RequireTool(t, "python3")
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "123")
	script := `import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://user:123@" + sys.argv[1] + "/RPC2")
print(s.supervisor.stopProcess("sleeper"), s.supervisor.getProcessInfo("sleeper")["statename"])`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", script, env.tcp).CombinedOutput()
	if err != nil || !bytes.Equal(bytes.TrimSpace(out), []byte("True STOPPED")) {
		t.Fatalf("python xmlrpc.client: %v\n%s", err, out)
	}
}

// TestCrossSiteTwoOrigins: a request with two Origin headers, one of
// them the door's own, is refused.
func TestCrossSiteTwoOrigins(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://h:9001/v1/stop", nil)
	r.Host = "h:9001"
	r.Header.Add("Origin", "http://h:9001")
	r.Header.Add("Origin", "http://evil.example")
	if crossSite(r) == "" {
		t.Fatal("two Origins accepted")
	}
	r.Header.Del("Origin")
	r.Header.Add("Origin", "http://h:9001")
	if why := crossSite(r); why != "" {
		t.Fatalf("own Origin refused: %s", why)
	}
}

// TestOriginMatches covers the origin comparison on its own.
func TestOriginMatches(t *testing.T) {
	cases := []struct {
		src, host string
		want      bool
	}{
		{"http://h:9001", "h:9001", true},
		{"http://H:9001", "h:9001", true},
		{"http://h", "h", true},
		{"http://h", "h:80", true},
		{"http://h:80", "h", true},
		{"https://h", "h", true},
		{"https://h", "h:443", true},
		{"https://h", "h:80", false},
		{"http://[::1]:9001", "[::1]:9001", true},
		{"http://[::1]:9001", "[::1]:9002", false},
		{"http://h:9002", "h:9001", false},
		{"http://h.evil.example:9001", "h:9001", false},
		{"http://evil.example", "h", false},
		{"http://h:9001/some/page", "h:9001", true}, // a Referer
		{"null", "h", false},
		{"", "h", false},
		{"file:///tmp/x.html", "h", false},
		{"ftp://h", "h", false},
		{"http://h", "", false},
		{"http://user@h", "h", true},
	}
	for _, c := range cases {
		if got := originMatches(c.src, c.host); got != c.want {
			t.Errorf("originMatches(%q, %q) = %v, want %v", c.src, c.host, got, c.want)
		}
	}
}
