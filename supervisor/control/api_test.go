package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// fakeDaemon is a Daemon whose config operations are scripted by the test.
type fakeDaemon struct {
	rereadErr   error
	evalStarted chan struct{} // closed when a blocking eval begins
	evalDone    chan error    // receives ctx.Err() when a blocking eval ends
}

func (f *fakeDaemon) Reread(context.Context) ([]supervisor.Change, error) {
	if f.rereadErr != nil {
		return nil, f.rereadErr
	}
	return []supervisor.Change{{Group: "new", Kind: "added", Added: []string{"new"}}}, nil
}
func (f *fakeDaemon) Update(ctx context.Context, groups []string) ([]supervisor.Change, error) {
	return f.Reread(ctx)
}
func (f *fakeDaemon) Available(context.Context) ([]supervisor.Spec, error) {
	return []supervisor.Spec{supervisor.NewSpec("new", "true"), supervisor.NewSpec("a", "sleep", "100")}, nil // not sorted
}
func (f *fakeDaemon) Scale(context.Context, string, int) ([]supervisor.Change, error) {
	return nil, nil
}
func (f *fakeDaemon) Eval(ctx context.Context, chunk string) (string, error) {
	switch chunk {
	case "block":
		close(f.evalStarted)
		<-ctx.Done()
		f.evalDone <- ctx.Err()
		return "", ctx.Err()
	case "bad":
		return "", errors.New(`eval:1: boom`)
	}
	return "got " + chunk, nil
}
func (f *fakeDaemon) Reload() error        { return nil }
func (f *fakeDaemon) HookStats() HookStats { return HookStats{} }
func (f *fakeDaemon) Shutdown()            {}
func (f *fakeDaemon) Pid() int             { return 4242 }
func (f *fakeDaemon) Globals() []string    { return []string{"print", "sv"} }

// newAPITest starts an engine running the given specs and an HTTP test
// server in front of it.
func newAPITest(t *testing.T, opts Options, specs ...supervisor.Spec) (*enginekit.Engine, *httptest.Server) {
	t.Helper()
	eng := enginekit.Run(t, supervisor.Config{}, specs...)
	opts.Engine = eng.Engine
	if opts.Daemon == nil {
		opts.Daemon = &fakeDaemon{evalDone: make(chan error, 1)}
	}
	srv := httptest.NewServer(New(opts))
	t.Cleanup(srv.Close)
	return eng, srv
}

// post sends a JSON body and decodes the reply into out, returning the
// HTTP status.
func post(t *testing.T, srv *httptest.Server, path, body string, out any) int {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	return resp.StatusCode
}

func get(t *testing.T, srv *httptest.Server, path string, out any) int {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	return resp.StatusCode
}

func TestAPI_Status(t *testing.T) {
	idle := enginekit.Sleeper("idle")
	idle.AutoStart = false
	_, srv := newAPITest(t, Options{}, enginekit.Sleeper("a"), idle)
	var r StatusReply
	if code := get(t, srv, "/v1/status", &r); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(r.Processes) != 2 {
		t.Fatalf("got %d processes, want 2", len(r.Processes))
	}
	a, i := r.Processes[0], r.Processes[1]
	if a.Name != "a" || a.StateName != "RUNNING" || a.Pid == 0 || !strings.HasPrefix(a.Description, "pid ") {
		t.Errorf("a = %+v", a)
	}
	if i.Name != "idle" || i.StateName != "STOPPED" || i.Description != "Not started" {
		t.Errorf("idle = %+v", i)
	}
}

func TestAPI_NamesOperations(t *testing.T) {
	g1, g2 := enginekit.Sleeper("w1"), enginekit.Sleeper("w2")
	g1.Group, g2.Group = "grp", "grp"
	_, srv := newAPITest(t, Options{}, enginekit.Sleeper("a"), g1, g2)
	tests := []struct {
		path, body string
		wantErr    supervisor.Fault // for the single name, 0 = none
		wantCodes  []supervisor.Fault
	}{
		{"/v1/stop", `{"names":["a"]}`, 0, []supervisor.Fault{supervisor.FaultSuccess}},
		{"/v1/stop", `{"names":["a"]}`, supervisor.FaultNotRunning, nil},
		{"/v1/start", `{"names":["a"]}`, 0, []supervisor.Fault{supervisor.FaultSuccess}},
		{"/v1/start", `{"names":["a"]}`, supervisor.FaultAlreadyStarted, nil},
		{"/v1/start", `{"names":["nosuch"]}`, supervisor.FaultBadName, nil},
		{"/v1/start", `{"names":["nogroup:*"]}`, supervisor.FaultBadName, nil},
		{"/v1/stop", `{"names":["grp:*"]}`, 0, []supervisor.Fault{supervisor.FaultSuccess, supervisor.FaultSuccess}},
		{"/v1/start", `{"names":["grp:"]}`, 0, []supervisor.Fault{supervisor.FaultSuccess, supervisor.FaultSuccess}},
		{"/v1/signal", `{"names":["a"],"signal":"HUP"}`, 0, []supervisor.Fault{supervisor.FaultSuccess}},
		{"/v1/signal", `{"names":["a"],"signal":"BOGUS"}`, supervisor.FaultBadSignal, nil},
		{"/v1/signal", `{"names":["nosuch"],"signal":"BOGUS"}`, supervisor.FaultBadName, nil},
		{"/v1/signal", `{"names":["grp:*"],"signal":"BOGUS"}`, 0, []supervisor.Fault{supervisor.FaultBadSignal, supervisor.FaultBadSignal}},
		{"/v1/clear", `{"names":["a"]}`, 0, []supervisor.Fault{supervisor.FaultSuccess}},
		{"/v1/clear", `{"names":["grp:*"]}`, supervisor.FaultBadName, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.body, func(t *testing.T) {
			var r NamesReply
			if code := post(t, srv, tt.path, tt.body, &r); code != 200 {
				t.Fatalf("HTTP %d", code)
			}
			if len(r.Results) != 1 {
				t.Fatalf("got %d results, want 1", len(r.Results))
			}
			nr := r.Results[0]
			if tt.wantErr != 0 {
				if nr.Error == nil || nr.Error.Fault() != tt.wantErr {
					t.Fatalf("error = %+v, want %v", nr.Error, tt.wantErr)
				}
				return
			}
			if nr.Error != nil {
				t.Fatalf("unexpected error %+v", nr.Error)
			}
			var got []supervisor.Fault
			for _, res := range nr.Results {
				got = append(got, supervisor.Fault(res.Code))
			}
			if len(got) != len(tt.wantCodes) {
				t.Fatalf("results %v, want %v", got, tt.wantCodes)
			}
			for i := range got {
				if got[i] != tt.wantCodes[i] {
					t.Fatalf("results %v, want %v", got, tt.wantCodes)
				}
			}
		})
	}
}

func TestAPI_PidAndRestart(t *testing.T) {
	eng, srv := newAPITest(t, Options{}, enginekit.Sleeper("a"))
	before, _ := eng.Info("a")
	var pr NamesReply
	post(t, srv, "/v1/pid", `{"names":["a","nosuch"]}`, &pr)
	if pr.Pid != 4242 || pr.Results[0].Results[0].Pid != before.Pid || pr.Results[1].Error.Fault() != supervisor.FaultBadName {
		t.Fatalf("pid reply %+v", pr)
	}
	var rr RestartReply
	post(t, srv, "/v1/restart", `{"names":["a"]}`, &rr)
	if rr.Stopped[0].Error != nil || rr.Started[0].Error != nil {
		t.Fatalf("restart reply %+v", rr)
	}
	after, _ := eng.Info("a")
	if after.Pid == before.Pid || after.State != supervisor.Running {
		t.Fatalf("restart: pid %d → %d, state %v", before.Pid, after.Pid, after.State)
	}
}

func TestAPI_BadRequests(t *testing.T) {
	_, srv := newAPITest(t, Options{}, enginekit.Sleeper("a"))
	tests := []struct {
		path, body string
		status     int
		code       supervisor.Fault
		msg        string
	}{
		{"/v1/start", `{`, 400, supervisor.FaultIncorrectParameters, "malformed JSON"},
		{"/v1/start", `{"names":"a"}`, 400, supervisor.FaultIncorrectParameters, "malformed JSON"},
		{"/v1/start", `{"nmes":["a"]}`, 400, supervisor.FaultIncorrectParameters, "unknown field"},
		{"/v1/eval", `[1,2]`, 400, supervisor.FaultIncorrectParameters, "malformed JSON"},
		{"/v1/scale", `{"program":"a","n":-1}`, 400, supervisor.FaultBadArguments, "count"},
		{"/v1/nosuch", `{}`, 404, supervisor.FaultUnknownMethod, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.path+tt.body, func(t *testing.T) {
			var r ErrorReply
			if code := post(t, srv, tt.path, tt.body, &r); code != tt.status {
				t.Errorf("HTTP %d, want %d", code, tt.status)
			}
			if r.Error == nil || r.Error.Fault() != tt.code || !strings.Contains(r.Error.Message, tt.msg) {
				t.Errorf("error %+v, want %v containing %q", r.Error, tt.code, tt.msg)
			}
		})
	}
	// The server still answers after bad input.
	var st StatusReply
	if code := get(t, srv, "/v1/status", &st); code != 200 || len(st.Processes) != 1 {
		t.Fatalf("status after bad requests: %d %+v", code, st)
	}
}

func TestAPI_Eval(t *testing.T) {
	fd := &fakeDaemon{evalDone: make(chan error, 1), evalStarted: make(chan struct{})}
	_, srv := newAPITest(t, Options{Daemon: fd})
	var r EvalReply
	if post(t, srv, "/v1/eval", `{"chunk":"1+1"}`, &r); r.Output != "got 1+1" {
		t.Fatalf("eval output %q", r.Output)
	}
	// A failing chunk is a successful request: the reply carries the Lua
	// error next to what the chunk printed before failing.
	var fr EvalReply
	post(t, srv, "/v1/eval", `{"chunk":"bad"}`, &fr)
	if fr.LuaError != "eval:1: boom" {
		t.Fatalf("eval error %+v", fr)
	}
	// Cancelling the request cancels the chunk on the daemon side.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/eval", strings.NewReader(`{"chunk":"block"}`))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-fd.evalStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the eval request never reached the daemon")
	}
	cancel()
	select {
	case err := <-fd.evalDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("eval ctx ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon-side eval was not cancelled")
	}
	<-done
}

func TestAPI_CompleteVersionAvailReread(t *testing.T) {
	fd := &fakeDaemon{}
	_, srv := newAPITest(t, Options{Daemon: fd, Version: "1.2.0"}, enginekit.Sleeper("a"))
	var c CompleteReply
	get(t, srv, "/v1/complete", &c)
	if strings.Join(c.Processes, ",") != "a,a:*" || strings.Join(c.Globals, ",") != "print,sv" {
		t.Fatalf("complete %+v", c)
	}
	var v VersionReply
	get(t, srv, "/v1/version", &v)
	if v.Version != "1.2.0" || v.SupervisorVersion != "4.2.5" || v.APIVersion != "3.0" {
		t.Fatalf("version %+v", v)
	}
	var av AvailReply
	get(t, srv, "/v1/avail", &av)
	if len(av.Processes) != 2 || av.Processes[0].Name != "a" || !av.Processes[0].InUse || av.Processes[1].InUse {
		t.Fatalf("avail %+v", av)
	}
	var ch ChangesReply
	post(t, srv, "/v1/reread", ``, &ch)
	if len(ch.Changes) != 1 || ch.Changes[0].Kind != "added" {
		t.Fatalf("reread %+v", ch)
	}
	fd.rereadErr = errors.New(`tend.lua:3: program "x": unknown option "comand"`)
	var er ErrorReply
	post(t, srv, "/v1/reread", ``, &er)
	if er.Error == nil || er.Error.Fault() != supervisor.FaultCantReread || !strings.Contains(er.Error.Message, "tend.lua:3:") {
		t.Fatalf("reread error %+v", er.Error)
	}
}

func TestAPI_Auth(t *testing.T) {
	_, srv := newAPITest(t, Options{Username: "user", Password: "123"})
	resp, err := http.Get(srv.URL + "/v1/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no credentials: HTTP %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/version", nil)
	req.SetBasicAuth("user", "123")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with credentials: HTTP %d", resp.StatusCode)
	}
}

func TestAPI_Tail(t *testing.T) {
	echo := supervisor.NewSpec("echo", "sh", "-c", `echo first; while read l; do echo "$l"; done`)
	echo.StartSecs = 0
	eng, srv := newAPITest(t, Options{}, echo)
	readAll := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testkit.WaitFor(t, "tail to show the first line", 0, func() bool {
		code, body := readAll("/v1/tail?name=echo")
		return code == 200 && body == "first\n"
	})
	if code, body := readAll("/v1/tail?name=echo&bytes=3"); code != 200 || body != "st\n" {
		t.Fatalf("tail -3: %d %q", code, body)
	}
	if code, body := readAll("/v1/tail?name=nosuch"); code != 404 || !strings.Contains(body, "BAD_NAME") {
		t.Fatalf("tail nosuch: %d %q", code, body)
	}
	if code, body := readAll("/v1/maintail"); code != 404 || !strings.Contains(body, "NO_FILE") {
		t.Fatalf("maintail without a main log: %d %q", code, body)
	}

	// Follow: the existing bytes, then whatever the process writes later.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/tail?name=echo&follow=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("follow transfer encoding %v, want chunked", resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("follow read %q, %v; want %q", line, err, want)
		}
	}
	expect("first\n")
	for _, l := range []string{"second", "third"} {
		if err := eng.SendStdin("echo", []byte(l+"\n")); err != nil {
			t.Fatal(err)
		}
		expect(l + "\n")
	}
}

// A door without credentials never runs code: NoEval refuses eval before
// the chunk reaches the daemon (whose fake would answer "got 1+1").
func TestAPI_EvalRefusedWithoutAuth(t *testing.T) {
	_, srv := newAPITest(t, Options{NoEval: true})
	var er ErrorReply
	if code := post(t, srv, "/v1/eval", `{"chunk":"1+1"}`, &er); code != http.StatusForbidden || er.Error == nil {
		t.Fatalf("eval on a NoEval door: %d %+v", code, er.Error)
	}
	if !strings.Contains(er.Error.Message, "disabled") {
		t.Errorf("message %q does not say why", er.Error.Message)
	}
}

// TestVersions: the web page's footer names tend's version, and
// XML-RPC keeps answering supervisord's for supervisorctl.
func TestVersions(t *testing.T) {
	_, srv := newAPITest(t, Options{Version: "1.2.0"})
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<footer>tend 1.2.0 — compatible with supervisord 4.2.5</footer>") {
		t.Errorf("footer does not name tend's version:\n%s", page)
	}
}
