package control

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
)

// wdSession is a WebDriver session with chromedriver, spoken over plain
// HTTP and JSON.
type wdSession struct {
	t    *testing.T
	base string // http://127.0.0.1:PORT/session/ID
}

// wdDo sends one WebDriver command and returns its "value".
func wdDo(t *testing.T, method, url string, body any) (json.RawMessage, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Value json.RawMessage `json:"value"`
	}
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, data)
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, out.Value)
	}
	return out.Value, nil
}

// exec runs a script in the page and decodes its result into out.
func (s *wdSession) exec(script string, out any) error {
	v, err := wdDo(s.t, "POST", s.base+"/execute/sync", map[string]any{"script": script, "args": []any{}})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(v, out)
}

// click finds an element by CSS selector and clicks it through WebDriver,
// retrying while the live table re-renders under it.
func (s *wdSession) click(selector string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := wdDo(s.t, "POST", s.base+"/element", map[string]any{"using": "css selector", "value": selector})
		if err == nil {
			var el map[string]string
			json.Unmarshal(v, &el)
			for _, id := range el {
				if _, err = wdDo(s.t, "POST", s.base+"/element/"+id+"/click", map[string]any{}); err == nil {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("click %s: %v", selector, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitJS polls a script returning a boolean until it is true.
func (s *wdSession) waitJS(what, script string) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var ok bool
		err := s.exec(script, &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			s.exec("return document.body.innerText", &html)
			s.t.Fatalf("timed out waiting for %s (last error %v); page text:\n%s", what, err, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wdStart starts chromedriver and a headless Chromium session (with
// JavaScript off when noJS), ended when the test ends.
func wdStart(t *testing.T, noJS bool) *wdSession {
	t.Helper()
	driver := testkit.RequireTool(t, "chromedriver")
	browser := testkit.RequireTool(t, "chromium")
	port := testkit.FreePort(t)
	cd := exec.Command(driver, fmt.Sprintf("--port=%d", port))
	if err := cd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() { cd.Process.Kill(); cd.Wait() })
	wd := fmt.Sprintf("http://127.0.0.1:%d", port)
	xrtWaitFor(t, "chromedriver", func() bool {
		_, err := wdDo(t, "GET", wd+"/status", nil)
		return err == nil
	})
	opts := map[string]any{
		"binary": browser,
		"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--window-size=1200,800", "--user-data-dir=" + t.TempDir()},
	}
	if noJS {
		opts["prefs"] = map[string]any{"profile.managed_default_content_settings.javascript": 2}
	}
	v, err := wdDo(t, "POST", wd+"/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"goog:chromeOptions": opts,
	}}})
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	json.Unmarshal(v, &sess)
	s := &wdSession{t: t, base: wd + "/session/" + sess.SessionID}
	t.Cleanup(func() { wdDo(t, "DELETE", s.base, nil) })
	return s
}

// open loads a URL in the session.
func (s *wdSession) open(url string) {
	s.t.Helper()
	if _, err := wdDo(s.t, "POST", s.base+"/url", map[string]any{"url": url}); err != nil {
		s.t.Fatalf("open %s: %v", url, err)
	}
}

// TestWebPageChromiumNoJS drives the page in Chromium with JavaScript
// off: its buttons are forms that pass the door's cross-site guard and
// come back to the page with the message, and the group filter is a form.
func TestWebPageChromiumNoJS(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	env.eng.WaitState("sleeper", supervisor.Running)
	s := wdStart(t, true)
	s.open("http://" + env.tcp + "/")
	var js bool
	if err := s.exec(`return document.documentElement.classList.contains("js")`, &js); err != nil || js {
		t.Fatalf("app.js ran (%v): JavaScript is not off", err)
	}
	s.click(`tr[data-name="sleeper"] button[data-action="stop"]`)
	env.eng.WaitState("sleeper", supervisor.Stopped)
	s.waitJS("the message after the form post", `return document.getElementById("msg").textContent === "Process sleeper stopped" &&
		document.querySelector('tr[data-name="sleeper"] td.state').textContent === "stopped"`)
	s.exec(`document.getElementById("group").value = "grp"; return true`, nil)
	s.click(`#show`)
	s.waitJS("the group view", `return [...document.querySelectorAll("#rows tr")].map(r => r.dataset.name).join() === "grp:w1,grp:w2"`)
	s.click(`#groupactions button[data-action="stopgroup"]`)
	env.eng.WaitState("grp:w2", supervisor.Stopped)
	s.waitJS("the group message", `return document.getElementById("msg").textContent === "Group grp stopped"`)
}

// TestWebPageChromium loads the page in headless Chromium driven through
// chromedriver: the programs are listed, Stop changes the state live, the
// log view follows output, the group filter filters; a screenshot is saved.
func TestWebPageChromium(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "user", "s3cret")
	env.eng.WaitState("talker", supervisor.Running)
	s := wdStart(t, false)

	s.open(fmt.Sprintf("http://%s:%s@%s/", env.user, env.pass, env.tcp))
	s.waitJS("the live table", `return document.getElementById("live").textContent === "live" &&
		document.querySelectorAll("#rows tr").length === 5`)
	var names []string
	s.exec(`return [...document.querySelectorAll("#rows tr")].map(r => r.dataset.name)`, &names)
	if strings.Join(names, ",") != "grp:w1,grp:w2,idle,sleeper,talker" {
		t.Errorf("listed programs %v", names)
	}

	s.click(`tr[data-name="sleeper"] button[data-action="stop"]`)
	s.waitJS("sleeper shown stopped", `return document.querySelector('tr[data-name="sleeper"] td.state').textContent === "stopped"`)
	if info, _ := env.eng.Info("sleeper"); info.State != supervisor.Stopped {
		t.Errorf("engine has sleeper %v after Stop", info.State)
	}
	s.waitJS("the status message", `return document.getElementById("msg").textContent === "Process sleeper stopped"`)

	s.click(`tr[data-name="talker"] a[data-action="tail"]`)
	s.waitJS("the log view", `return document.getElementById("log").textContent.includes("hello")`)
	// New output reaches the open log view.
	if _, err := env.mustCallRestart(t, "talker"); err != nil {
		t.Fatal(err)
	}
	s.waitJS("followed output", `return document.getElementById("log").textContent.split("hello").length > 2`)

	s.exec(`const g = document.getElementById("group"); g.value = "grp"; g.dispatchEvent(new Event("change")); return true`, nil)
	s.waitJS("group filter", `return [...document.querySelectorAll("#rows tr")].every(r => r.dataset.group === "grp")`)
	// A group selected offers its own start, stop and restart.
	s.waitJS("group actions", `return !document.getElementById("groupactions").hidden &&
		document.getElementById("groupname").value === "grp"`)
	s.click(`#groupactions button[data-action="stopgroup"]`)
	s.waitJS("the group stopped", `return document.getElementById("msg").textContent === "Group grp stopped" &&
		[...document.querySelectorAll("#rows tr td.state")].every(td => td.textContent === "stopped")`)
	s.exec(`const g = document.getElementById("group"); g.value = ""; g.dispatchEvent(new Event("change")); return true`, nil)
	s.waitJS("group actions hidden", `return document.getElementById("groupactions").hidden`)

	// A filter of only spaces filters nothing.
	s.exec(`const f = document.getElementById("filter"); f.value = "   "; f.dispatchEvent(new Event("input")); return true`, nil)
	s.waitJS("every row under a blank filter", `return document.querySelectorAll("#rows tr").length === 5`)
	s.screenshot("tend-web.png")

	// At a phone's 390 px nothing is cut off: no sideways scrolling and
	// every button and link inside the viewport.
	if _, err := wdDo(t, "POST", s.base+"/window/rect", map[string]any{"width": 390, "height": 844}); err != nil {
		t.Fatalf("resize: %v", err)
	}
	s.waitJS("the page at 390 px", `return window.innerWidth <= 390`)
	var off []string
	if err := s.exec(`const w = document.documentElement.clientWidth; const out = [];
		if (document.documentElement.scrollWidth > w) out.push("page scrolls sideways: " + document.documentElement.scrollWidth + " > " + w);
		for (const el of document.querySelectorAll("button, a.button, select, input:not([type=hidden])")) {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && (r.left < 0 || r.right > w)) out.push((el.textContent || el.id) + " spans " + r.left + ".." + r.right);
		}
		return out`, &off); err != nil {
		t.Fatal(err)
	}
	if len(off) > 0 {
		t.Errorf("cut off at 390 px wide:\n%s", strings.Join(off, "\n"))
	}
	s.screenshot("tend-web-390.png")
}

// screenshot saves the page as a PNG in $TEND_SCREENSHOT_DIR (a temporary
// folder when unset).
func (s *wdSession) screenshot(name string) {
	s.t.Helper()
	v, err := wdDo(s.t, "GET", s.base+"/screenshot", nil)
	if err != nil {
		s.t.Fatalf("screenshot: %v", err)
	}
	var b64 string
	json.Unmarshal(v, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		s.t.Fatalf("screenshot is not a PNG: %v", err)
	}
	dir := os.Getenv("TEND_SCREENSHOT_DIR")
	if dir == "" {
		dir = s.t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot saved to %s (%d bytes)", path, len(png))
}
