package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// doorBody is the doors scenarios' config: one program to protect.
const doorBody = `program "target" { command = "sleep 100000", startsecs = 0 }`

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// post sends a raw request to the unix socket and returns the status (0
// when there was no HTTP reply at all).
func (d *Daemon) post(ctx context.Context, path, ctype string, body io.Reader) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://tend"+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// malformedScenario throws malformed, huge and hostile requests at the
// unix socket. Each must get an HTTP answer (a fault or a 4xx), the daemon
// must live on, and the protected program must keep its pid.
func malformedScenario(ctx context.Context, r *run) {
	d, start, ok := r.startRunning(ctx, "malformed", daemonOpts{body: doorBody})
	if !ok {
		return
	}
	rng := r.rng()
	// XML-RPC.
	valid := string(xmlCall("supervisor.getProcessInfo", "target"))
	bodies := []string{"", "x", "<", "<?xml version=\"1.0\"?>", "<methodCall>", "<methodCall></methodCall>",
		"<methodCall><methodName></methodName></methodCall>",
		"<methodCall><methodName>supervisor.stopProcess</methodName><params><param><value><int>1</int></value></param></params></methodCall>",
		"<methodCall><methodName>supervisor.stopProcess</methodName><params><param><value><struct><member><name>x</name></member></struct></value></param></params></methodCall>",
		"<methodCall><methodName>system.multicall</methodName><params><param><value><array><data><value><int>1</int></value></data></array></value></param></params></methodCall>",
		`<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><methodCall><methodName>&c;</methodName></methodCall>`,
		`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall><methodName>&e;</methodName></methodCall>`,
		"<methodCall><methodName>x</methodName><params>" + strings.Repeat("<param><value><array><data><value>", 20000) + "</params></methodCall>",
		strings.Repeat("<methodCall>", 100000),
		"\x00\xff\xfe<methodCall>",
		valid[:len(valid)/2],
	}
	for range 200 {
		bodies = append(bodies, mutate(rng.Uint64(), valid))
	}
	noReply, statuses := 0, map[int]int{}
	for _, b := range bodies {
		_, _, err := d.rawXMLRPC(ctx, []byte(b))
		st := 200
		if he, ok := err.(*httpError); ok {
			st = he.status
		} else if err != nil {
			st, noReply = 0, noReply+1
		}
		statuses[st]++
	}
	r.fig("malformed XML-RPC bodies", fmt.Sprintf("%d sent; HTTP statuses %s; %d without a reply", len(bodies), histogram(statuses), noReply),
		noReply == 0 && statuses[500] == 0 && !d.exitedNow())
	// JSON.
	jsonBodies := []struct{ path, body string }{
		{"/v1/start", ""}, {"/v1/start", "{"}, {"/v1/start", "null"}, {"/v1/start", "[]"},
		{"/v1/start", `{"names": 5}`}, {"/v1/stop", `{"names": [1, {"a": 2}]}`}, {"/v1/stop", `{"names": ["target"`},
		{"/v1/signal", `{"signal": "KILL"}`}, {"/v1/signal", `{"names": ["target"], "signal": "NOSUCH"}`},
		{"/v1/scale", `{"program": "target", "n": -1}`}, {"/v1/scale", `{"program": "nosuch", "n": 1}`},
		{"/v1/update", `{"groups": "x"}`}, {"/v1/eval", `{"chunk": 5}`},
		{"/v1/start", strings.Repeat("[", 200000)}, {"/v1/stop", "\xff\xfe\x00"},
		{"/v1/nosuch", "{}"},
	}
	// Each must get an answer, and an error must be the API's JSON error
	// (the API answers a FAILED fault with 500, so the status alone says
	// nothing). The ones taken as an empty request (200) are listed, as
	// leniency rather than failure.
	var bad, lenient []string
	statuses = map[int]int{}
	for _, jb := range jsonBodies {
		err := d.json(ctx, "POST", jb.path, []byte(jb.body), nil)
		var he *httpError
		switch {
		case err == nil:
			statuses[200]++
			lenient = append(lenient, fmt.Sprintf("%s %.20q", jb.path, jb.body))
		case errors.As(err, &he) && (he.status == 404 || strings.HasPrefix(he.body, `{"error":`)):
			statuses[he.status]++
		default:
			bad = append(bad, fmt.Sprintf("%s %.20q: %v", jb.path, jb.body, err))
		}
	}
	r.fig("bad JSON answered with an API error", fmt.Sprintf("%d sent; statuses %s; no reply or not an API error: %s; taken as empty (200): %s",
		len(jsonBodies), histogram(statuses), listOrNone(bad), listOrNone(lenient)), len(bad) == 0)
	hugeBodies(ctx, r, d)
	cveNames(ctx, r, d)
	same := samePids(ctx, d, start)
	ans := d.answers(ctx, r.cfg.Bound)
	r.fig("after the abuse", fmt.Sprintf("%s; status in %s", same, durOr(ans, "no answer")), same == "pids unchanged" && ans >= 0)
}

// mutate returns s with a few random byte changes, truncations or
// duplications, from seed.
func mutate(seed uint64, s string) string {
	b := []byte(s)
	for i := range 1 + seed%4 {
		seed = seed*6364136223846793005 + 1442695040888963407
		pos := int(seed>>33) % max(len(b), 1)
		switch (seed >> 20) % 4 {
		case 0:
			b[pos] = byte(seed >> 8)
		case 1:
			b = b[:pos]
		case 2:
			b = append(b[:pos:pos], append([]byte(strings.Repeat("<value>", int(i+1)*50)), b[pos:]...)...)
		case 3:
			b = append(b[:pos:pos], b[min(pos+7, len(b)):]...)
		}
		if len(b) == 0 {
			break
		}
	}
	return string(b)
}

// histogram renders status counts ("200x12 400x3").
func histogram(m map[int]int) string {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%dx%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// hugeBodies posts 64 MB bodies to each door; the daemon must live and
// not keep the memory.
func hugeBodies(ctx context.Context, r *run, d *Daemon) {
	st0, _ := readStat(d.pid())
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if st, err := readStat(d.pid()); err == nil && st.rss > peak.Load() {
				peak.Store(st.rss)
			}
		}
	}()
	const size = 64 << 20
	huge := func(prefix, fill, suffix string) io.Reader {
		return io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatReader(fill), size), strings.NewReader(suffix))
	}
	var res []string
	for _, c := range []struct {
		path, ctype string
		body        io.Reader
	}{
		{"/RPC2", "text/xml", huge("<methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value><string>", "x", "</string></value></param></params></methodCall>")},
		{"/v1/start", "application/json", huge(`{"names": [`, `"target",`, `"target"]}`)},
		{"/v1/eval", "application/json", huge(`{"chunk": "return 1 --`, "x", `"}`)},
		{"/v1/stop", "application/json", huge("", "{", "")},
	} {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		st, err := d.post(cctx, c.path, c.ctype, c.body)
		cancel()
		res = append(res, fmt.Sprintf("%s %d%s", c.path, st, map[bool]string{true: " (" + errOr(err, "") + ")"}[err != nil]))
	}
	close(done)
	ans := d.answers(ctx, r.cfg.Bound)
	r.fig("64 MB bodies", strings.Join(res, ", ")+"; status "+durOr(ans, "no answer"), ans >= 0 && !d.exitedNow())
	time.Sleep(time.Second)
	st1, _ := readStat(d.pid())
	r.fig("RSS through the huge bodies", fmt.Sprintf("%s -> peak %s -> %s", mb(st0.rss), mb(peak.Load()), mb(st1.rss)), st1.rss <= st0.rss+256<<20)
}

// repeatReader repeats s forever.
type repeatReader string

func (s repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], s)
	}
	return n, nil
}

// cveNames calls CVE-2017-11610-style method names that walk from the
// supervisor namespace into Python-like attributes. Each must be a fault,
// and the command in them must not run.
func cveNames(ctx context.Context, r *run, d *Daemon) {
	canary := filepath.Join(d.dir, "pwned")
	methods := []string{
		"supervisor.supervisord.options.warnings.linecache.os.system",
		"supervisor.supervisord.options.execve",
		"supervisor.__init__", "supervisor.__class__.__init__.__globals__", "supervisor._rpc", "system.__dict__",
		"supervisor.getProcessInfo.__globals__", "os.system", "supervisor..getState", ".supervisor.getState", "supervisor.getState.",
	}
	var open []string
	for _, m := range methods {
		fault, body, err := d.xmlrpc(ctx, m, "touch "+canary)
		if err != nil || fault == 0 {
			open = append(open, fmt.Sprintf("%s: %v %.60q", m, err, body))
		}
	}
	_, err := os.Stat(canary)
	r.fig("CVE-2017-11610-style method names", fmt.Sprintf("%d tried; answered without a fault: %s; canary %s", len(methods), listOrNone(open),
		map[bool]string{true: "absent", false: "CREATED"}[os.IsNotExist(err)]), len(open) == 0 && os.IsNotExist(err))
}

// crossSiteScenario sends what a page on another site can make a browser
// send (a text/plain POST, or one with Origin: http://evil.example) to the
// state-changing endpoints over TCP with the credentials a browser would
// hold. Each must be refused and the target keep its pid; the real
// clients' requests must still work.
func crossSiteScenario(ctx context.Context, r *run) {
	port, err := freePort()
	if err != nil {
		r.errFig("free port", err)
		return
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	extra := fmt.Sprintf(`http = { listen = %q, username = "soak", password = "soakpw" }`, addr)
	d, _, ok := r.startRunning(ctx, "xsite", daemonOpts{body: doorBody, extra: extra})
	if !ok {
		return
	}
	tcp := &http.Client{Timeout: 10 * time.Second}
	send := func(path, ctype, origin, site, body string) int {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+path, strings.NewReader(body))
		req.SetBasicAuth("soak", "soakpw")
		req.Header.Set("Content-Type", ctype)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
			req.Header.Set("Sec-Fetch-Mode", "no-cors")
		}
		resp, err := tcp.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	type attack struct{ path, body string }
	attacks := []attack{
		{"/v1/stop", `{"names": ["target"]}`},
		{"/RPC2", string(xmlCall("supervisor.stopProcess", "target"))},
		{"/v1/eval", `{"chunk": "require('sv').stop('target')"}`},
	}
	variants := []struct{ what, ctype, origin, site string }{
		{"text/plain, Origin evil", "text/plain", "http://evil.example", "cross-site"},
		{"text/plain, Sec-Fetch-Site cross-site only", "text/plain", "", "cross-site"},
		{"text/plain, no Origin", "text/plain", "", ""},
		{"form, Origin evil", "application/x-www-form-urlencoded", "http://evil.example", "cross-site"},
		{"right type, Origin evil", "", "http://evil.example", "cross-site"},
	}
	for _, a := range attacks {
		for _, v := range variants {
			ctype := v.ctype
			if ctype == "" {
				ctype = map[bool]string{true: "text/xml", false: "application/json"}[a.path == "/RPC2"]
			}
			before, _ := d.pids(ctx)
			st := send(a.path, ctype, v.origin, v.site, a.body)
			time.Sleep(100 * time.Millisecond)
			after, _ := d.pids(ctx)
			harmed := after["target:target"] != before["target:target"] || after["target:target"] == 0
			r.figD(3, fmt.Sprintf("POST %s (%s)", a.path, v.what), fmt.Sprintf("HTTP %d, target %s", st,
				map[bool]string{true: "STOPPED", false: "untouched"}[harmed]), st/100 == 4 && !harmed)
			if harmed {
				d.ctl(ctx, r.cfg.Bound, "start", "target")
			}
		}
	}
	// The real clients keep working over TCP.
	stJSON := send("/v1/start", "application/json", "", "", `{"names": ["target"]}`)
	stXML := send("/RPC2", "text/xml", "", "", string(xmlCall("supervisor.getState")))
	stSame := send("/v1/start", "application/json", "http://"+addr, "same-origin", `{"names": ["target"]}`)
	r.fig("real clients (JSON, XML-RPC, same-origin JSON) still served", fmt.Sprintf("HTTP %d, %d, %d", stJSON, stXML, stSame),
		stJSON/100 == 2 && stXML/100 == 2 && stSame/100 == 2)
}

// idleScenario opens many idle connections on the unix socket, in three
// kinds: after one keep-alive request, sending nothing, and a partial
// header (slowloris). A new client must still be served at once, and the
// daemon must reclaim (close) every kind within IdleWait.
func idleScenario(ctx context.Context, r *run) {
	d, err := r.startDaemon(ctx, "idle", daemonOpts{body: doorBody})
	if err != nil {
		r.errFig("start daemon", err)
		return
	}
	fd0 := fdCount(d.pid())
	kinds := []string{"idle after a keep-alive request", "silent", "partial header"}
	var opened, closed [3]atomic.Int64
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for i := range r.cfg.IdleConns {
		c, err := net.Dial("unix", d.sock)
		if err != nil {
			break
		}
		k := i % 3
		opened[k].Add(1)
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		switch k {
		case 0:
			fmt.Fprintf(c, "GET /v1/version HTTP/1.1\r\nHost: tend\r\n\r\n")
		case 2:
			fmt.Fprintf(c, "POST /RPC2 HTTP/1.1\r\nHost: tend\r\n")
		}
		go func() {
			br := bufio.NewReader(c)
			for {
				if _, err := br.ReadByte(); err != nil {
					closed[k].Add(1)
					return
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	held := fdCount(d.pid()) - fd0
	ans := d.answers(ctx, r.cfg.Bound)
	total := opened[0].Load() + opened[1].Load() + opened[2].Load()
	r.fig("new client served with idle conns open", fmt.Sprintf("%d opened, daemon holds +%d fds; status in %s", total, held, durOr(ans, "no answer")), ans >= 0)
	t0 := time.Now()
	reclaimed := func(k int) bool { return closed[k].Load()*10 >= opened[k].Load()*9 }
	pollInt(ctx, r.cfg.IdleWait, func() int { return 0 }, func(int) bool { return reclaimed(0) && reclaimed(1) && reclaimed(2) })
	for k, what := range kinds {
		r.figD(7, "conns reclaimed: "+what, fmt.Sprintf("%d of %d closed by the daemon after %s", closed[k].Load(), opened[k].Load(),
			time.Since(t0).Round(time.Second)), reclaimed(k))
	}
	r.fig("daemon fds", fmt.Sprintf("%d before, %d at the end", fd0, fdCount(d.pid())), true)
}
