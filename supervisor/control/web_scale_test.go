package control

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// webScaleSpecs are n sleepers in group "pool" (pool:w0000 ...) and a
// talker whose log the detail view shows.
func webScaleSpecs(n int) []supervisor.Spec {
	specs := make([]supervisor.Spec, 0, n+1)
	for k := range n {
		s := xrtSpec("pool", fmt.Sprintf("w%04d", k), "sleep", "1000")
		s.Program, s.GroupPriority = "w", 500
		s.Stdout.Path, s.Stderr.Path = supervisor.LogNone, supervisor.LogNone
		specs = append(specs, s)
	}
	talker := xrtSpec("talker", "talker", "sh", "-c", "echo hello from talker; exec sleep 1000")
	talker.MaxMemory, talker.MaxMemoryFor = 1<<30, 20*time.Second
	return append(specs, talker)
}

// TestWebPageChromium1000 drives the page in headless Chromium with 1000
// processes: every row renders, each running process gets CPU and memory
// sparklines drawn by the page, Stop on one row stops it, and the detail
// view shows the state timeline, the resolved config, the limits and the
// followed log. It logs how long the page took to render.
func TestWebPageChromium1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 processes and a browser: not in -short")
	}
	const n = 1000
	specs := webScaleSpecs(n)
	s := wdStart(t, false) // skips here when there is no Chromium
	started := time.Now()
	env := xrtStart(t, specs, specs, "", "")
	t.Logf("%d processes RUNNING in %v", n+1, time.Since(started).Round(time.Millisecond))

	opened := time.Now()
	s.open("http://" + env.tcp + "/")
	s.waitJSFor("1000 rows", time.Minute, fmt.Sprintf(`return document.getElementById("live").textContent === "live" &&
		document.querySelectorAll("#rows tr").length === %d && performance.getEntriesByName("tend-first-render").length > 0`, n+1))
	loaded := time.Since(opened)
	var render, usage float64
	var marks map[string]float64
	s.exec(`const n = performance.getEntriesByType("navigation")[0], r = performance.getEntriesByName("tend-first-render")[0];
		const st = performance.getEntriesByType("resource").find(e => e.name.endsWith("/ui/status")) || {};
		const us = performance.getEntriesByType("resource").find(e => e.name.includes("/ui/usage")) || {};
		return {html: n.responseEnd, dom: n.domContentLoadedEventEnd, status: st.responseEnd, statusWait: st.responseStart - st.requestStart,
			usage: us.responseEnd, usageWait: us.responseStart - us.requestStart, start: r.startTime, render: r.duration}`, &marks)
	t.Logf("page with %d rows shown %v after navigation: HTML at %.0f ms, DOM ready at %.0f ms, /ui/status at %.0f ms (server %.0f ms), "+
		"/ui/usage at %.0f ms (server %.0f ms), first render from %.0f ms taking %.0f ms",
		n+1, loaded.Round(time.Millisecond), marks["html"], marks["dom"], marks["status"], marks["statusWait"],
		marks["usage"], marks["usageWait"], marks["start"], marks["render"])

	// Sparklines: the page polls /ui/usage once a step, so within two
	// steps every running process has two points and a drawn line.
	s.waitJSFor("a drawn CPU and memory line in every row", time.Minute, fmt.Sprintf(`
		const drawn = [...document.querySelectorAll("#rows tr")].filter(tr =>
			[...tr.querySelectorAll("svg.spark path")].filter(p => /^M[\d.]+ [\d.]+L[\d.]+ [\d.]+/.test(p.getAttribute("d") || "")).length === 2);
		return drawn.length === %d`, n+1))
	s.exec(`return performance.getEntriesByName("tend-usage")[0].duration`, &usage)
	t.Logf("one figures and sparklines update of %d rows took %.1f ms", n+1, usage)
	var cells []string
	s.exec(`const tr = document.querySelector('tr[data-name="pool:w0500"]');
		return [tr.querySelector("td.cpu").textContent, tr.querySelector("td.mem").textContent, tr.querySelector("td.restarts").textContent]`, &cells)
	if len(cells) != 3 || cells[0] == "" || cells[1] == "" || cells[2] != "0" {
		t.Errorf("pool:w0500 shows cpu %q", cells)
	}

	var scroll []int
	s.exec(`return [document.documentElement.scrollWidth, document.documentElement.clientWidth]`, &scroll)
	if len(scroll) != 2 || scroll[0] > scroll[1] {
		t.Errorf("the table is wider than the 1200 px window: scroll width %v", scroll)
	}

	// Stop one from the page.
	s.click(`tr[data-name="pool:w0500"] button[data-action="stop"]`)
	env.eng.WaitState("pool:w0500", supervisor.Stopped)
	s.waitJS("pool:w0500 shown stopped with its exit", `const tr = document.querySelector('tr[data-name="pool:w0500"]');
		return tr.querySelector("td.state").textContent === "stopped" && tr.querySelector("td.exit").textContent.startsWith("SIGTERM at ") &&
			tr.querySelector("td.cpu").textContent === ""`)
	s.exec(`return performance.getEntriesByName("tend-render")[0].duration`, &render)
	t.Logf("re-render of %d rows after a state change took %.1f ms", n+1, render)

	// The detail view of talker.
	s.click(`tr[data-name="talker"] a[data-action="detail"]`)
	s.waitJS("the detail view", `return !document.getElementById("detail").hidden && document.getElementById("procs").hidden &&
		document.getElementById("dname").textContent === "talker"`)
	s.waitJS("the timeline", `const rows = [...document.querySelectorAll("#dtimeline tbody tr")].map(r => r.cells[1].textContent);
		return rows.includes("stopped → starting") && rows.includes("starting → running") &&
			document.querySelectorAll("#dband rect").length >= 2`)
	s.waitJS("the log tail", `return document.getElementById("log").textContent.includes("hello from talker") &&
		document.getElementById("detail").contains(document.getElementById("logview"))`)
	s.waitJS("the config and limits", `const cfg = Object.fromEntries([...document.querySelectorAll("#dconfig tr")].map(r => [r.cells[0].textContent, r.cells[1].textContent]));
		const facts = document.getElementById("dfacts").textContent;
		return cfg.command === "sh -c \"echo hello from talker; exec sleep 1000\"" && cfg.max_memory === "1.0GiB" &&
			facts.includes("max_memory1.0GiB for 20 s, 0 restarts")`)
	s.waitJS("the detail charts", `return /^M[\d.]+ [\d.]+L/.test(document.querySelector("#dcpu path").getAttribute("d")) &&
		/^M[\d.]+ [\d.]+L/.test(document.querySelector("#dmem path").getAttribute("d"))`)
	s.screenshot("tend-web-detail.png")

	// Back to the table, the log stream closed.
	s.click(`#detailback`)
	s.waitJS("the table again", `return document.getElementById("detail").hidden && !document.getElementById("procs").hidden &&
		document.getElementById("logview").hidden`)
	s.screenshot("tend-web-1000.png")
}

// waitJSFor is waitJS with its own deadline, for a page of 1000 rows on
// a loaded machine.
func (s *wdSession) waitJSFor(what string, d time.Duration, script string) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var ok bool
		err := s.exec(script, &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			// What the first rows show, to tell a missing point from an
			// undrawn one.
			var rows []string
			s.exec(`return [...document.querySelectorAll("#rows tr")].slice(0, 3).map(tr => tr.dataset.name + ": " +
				[...tr.querySelectorAll("td.cpu, td.mem")].map(td => td.textContent + " d=" + td.querySelector("path").getAttribute("d")).join(" | "))`, &rows)
			s.t.Fatalf("timed out after %v waiting for %s (last error %v); first rows:\n%s", d, what, err, strings.Join(rows, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
