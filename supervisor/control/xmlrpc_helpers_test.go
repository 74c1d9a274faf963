package control

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// xrtDaemon is a small Daemon for tests: the "config" is a fixed list of
// specs, and shutdown/restart are recorded.
type xrtDaemon struct {
	eng *supervisor.Engine

	mu        sync.Mutex
	specs     []supervisor.Spec
	restarts  int
	shutdowns int
	evals     int // Eval calls (the chunk is not run)
	rereadErr error
	hooks     HookStats
}

func (d *xrtDaemon) Reread(ctx context.Context) ([]supervisor.Change, error) {
	d.mu.Lock()
	specs, rerr := d.specs, d.rereadErr
	d.mu.Unlock()
	if rerr != nil {
		return nil, rerr
	}
	return d.eng.Plan(specs)
}

func (d *xrtDaemon) Update(ctx context.Context, groups []string) ([]supervisor.Change, error) {
	specs, _ := d.Available(ctx)
	if len(groups) == 0 {
		return d.eng.Update(ctx, specs)
	}
	return d.eng.UpdateGroups(ctx, specs, groups)
}

func (d *xrtDaemon) Available(context.Context) ([]supervisor.Spec, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]supervisor.Spec(nil), d.specs...), nil
}

func (d *xrtDaemon) Scale(context.Context, string, int) ([]supervisor.Change, error) {
	return nil, errors.New("scale: not supported by the test daemon")
}

func (d *xrtDaemon) Eval(context.Context, string) (string, error) {
	d.mu.Lock()
	d.evals++
	d.mu.Unlock()
	return "", errors.New("eval: not supported by the test daemon")
}

func (d *xrtDaemon) Reload() error {
	d.mu.Lock()
	d.restarts++
	d.mu.Unlock()
	return nil
}

func (d *xrtDaemon) Shutdown() {
	d.mu.Lock()
	d.shutdowns++
	d.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.eng.Shutdown(ctx)
	}()
}

func (d *xrtDaemon) Pid() int { return os.Getpid() }

func (d *xrtDaemon) Globals() []string { return nil }

func (d *xrtDaemon) HookStats() HookStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hooks
}

// xrtEnv is a running control server over a real engine.
type xrtEnv struct {
	dir     string
	eng     *enginekit.Engine
	daemon  *xrtDaemon
	srv     *Server
	sock    string // unix socket path
	tcp     string // host:port
	mainLog *logfile.File
	user    string
	pass    string
}

// xrtSpec returns a spec with a short startsecs, so tests need not wait.
func xrtSpec(group, name string, argv ...string) supervisor.Spec {
	s := supervisor.NewSpec(name, argv...)
	s.Group = group
	s.StartSecs = 0
	s.StopWait = 2 * time.Second
	return s
}

// xrtSpecs is the standard fixture: two running programs (one printing to
// both streams), one autostart=false program, a two-process group, and a
// configured-but-not-loaded group "newone".
func xrtSpecs() (inUse, available []supervisor.Spec) {
	sleeper := xrtSpec("sleeper", "sleeper", "sleep", "1000")
	talker := xrtSpec("talker", "talker", "sh", "-c", "echo hello; echo oops >&2; exec sleep 1000")
	idle := xrtSpec("idle", "idle", "sleep", "1000")
	idle.AutoStart = false
	w1 := xrtSpec("grp", "w1", "sleep", "1000")
	w2 := xrtSpec("grp", "w2", "sleep", "1000")
	w1.Program, w2.Program = "w", "w"
	w1.GroupPriority, w2.GroupPriority = 500, 500
	newone := xrtSpec("newone", "newone", "sleep", "1000")
	inUse = []supervisor.Spec{sleeper, talker, idle, w1, w2}
	return inUse, append(append([]supervisor.Spec(nil), inUse...), newone)
}

// xrtStart builds an engine running specs and serves a control server for
// it on a unix socket and on 127.0.0.1:0 (with basic auth when user is set).
func xrtStart(t *testing.T, inUse, available []supervisor.Spec, user, pass string) *xrtEnv {
	t.Helper()
	dir := testkit.ShortTempDir(t)
	env := &xrtEnv{dir: dir, user: user, pass: pass}
	env.eng = enginekit.New(t, supervisor.Config{ChildLogDir: dir})
	env.daemon = &xrtDaemon{eng: env.eng.Engine, specs: available}
	var err error
	env.mainLog, err = logfile.Open(filepath.Join(dir, "tend.log"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	env.mainLog.Write([]byte("2026-01-01 00:00:00,000 INFO supervisord started with pid 1\n"))
	env.srv = New(Options{Engine: env.eng.Engine, Daemon: env.daemon, MainLog: env.mainLog, Username: user, Password: pass})

	env.sock = filepath.Join(dir, "s.sock")
	ul, err := net.Listen("unix", env.sock)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.tcp = tl.Addr().String()
	hs := &http.Server{Handler: env.srv}
	go hs.Serve(ul)
	go hs.Serve(tl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		env.eng.Shutdown(ctx)
		hs.Close()
		env.mainLog.Close()
	})
	env.eng.Load(inUse...)
	return env
}

// xrtWaitFor polls cond with a deadline, for what sends no event.
func xrtWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 0, cond)
}

// waitTalkerOutput waits until both of talker's lines are logged. Its
// stdout and stderr are separate pipes read by separate goroutines, so
// seeing "hello" says nothing about "oops".
func (env *xrtEnv) waitTalkerOutput(t *testing.T) {
	t.Helper()
	xrtWaitFor(t, "talker output on stdout and stderr", func() bool {
		b, _ := env.eng.ReadLog("talker", "stdout", 0, 0)
		e, _ := env.eng.ReadLog("talker", "stderr", 0, 0)
		return len(b) > 0 && len(e) > 0
	})
}

// unixClient returns an HTTP client that dials the env's unix socket.
func (env *xrtEnv) unixClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", env.sock)
		},
	}}
}

// xrtFault is a fault returned by a call.
type xrtFault struct {
	Code   int
	String string
}

// rpc posts a raw body to /RPC2 over the unix socket and returns the
// decoded result or fault.
func (env *xrtEnv) rpcRaw(t *testing.T, body []byte) (any, *xrtFault) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://tend/RPC2", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	if env.user != "" {
		req.SetBasicAuth(env.user, env.pass)
	}
	resp, err := env.unixClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /RPC2: %s: %s", resp.Status, data)
	}
	v, f, err := xrtParseResponse(data)
	if err != nil {
		t.Fatalf("bad response %q: %v", data, err)
	}
	return v, f
}

// call makes one XML-RPC call.
func (env *xrtEnv) call(t *testing.T, method string, params ...any) (any, *xrtFault) {
	t.Helper()
	return env.rpcRaw(t, xrtRequest(method, params...))
}

// mustCall makes a call that must succeed.
func (env *xrtEnv) mustCall(t *testing.T, method string, params ...any) any {
	t.Helper()
	v, f := env.call(t, method, params...)
	if f != nil {
		t.Fatalf("%s%v: fault %d %s", method, params, f.Code, f.String)
	}
	return v
}

// xrtRequest encodes a methodCall.
func xrtRequest(method string, params ...any) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>\n<methodCall>\n<methodName>")
	xrEscapeText(&b, method)
	b.WriteString("</methodName>\n<params>\n")
	for _, p := range params {
		b.WriteString("<param>\n")
		xrEncodeValue(&b, p)
		b.WriteString("</param>\n")
	}
	b.WriteString("</params>\n</methodCall>\n")
	return b.Bytes()
}

// xrtParseResponse decodes a methodResponse.
func xrtParseResponse(data []byte) (any, *xrtFault, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	root, err := xrNextStart(d)
	if err != nil || root.Name.Local != "methodResponse" {
		return nil, nil, fmt.Errorf("no methodResponse: %v", err)
	}
	tok, err := xrNextElementToken(d)
	if err != nil {
		return nil, nil, err
	}
	se, _ := tok.(xml.StartElement)
	switch se.Name.Local {
	case "params":
		params, err := xrParseParams(d)
		if err != nil || len(params) != 1 {
			return nil, nil, fmt.Errorf("params: %v (%d)", err, len(params))
		}
		return params[0], nil, nil
	case "fault":
		v, err := xrParseWrapped(d, 0)
		if err != nil {
			return nil, nil, err
		}
		st, _ := v.(xrStruct)
		code, _ := st.get("faultCode")
		msg, _ := st.get("faultString")
		c, _ := code.(int64)
		m, _ := msg.(string)
		return nil, &xrtFault{int(c), m}, nil
	}
	return nil, nil, fmt.Errorf("unexpected <%s>", se.Name.Local)
}

// xrtField returns a struct member.
func xrtField(t *testing.T, v any, name string) any {
	t.Helper()
	st, ok := v.(xrStruct)
	if !ok {
		t.Fatalf("not a struct: %#v", v)
	}
	f, ok := st.get(name)
	if !ok {
		t.Fatalf("struct has no %q: %#v", name, v)
	}
	return f
}
