package control

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/logfile"
)

// The corpora in testdata/fuzz/ (this file's targets and
// FuzzXMLRPCRequest) are a selection of what
//
//	go test -run '^$' -fuzz '^FuzzJSONAPI$' -fuzztime 100s ./supervisor/control
//
// found interesting; plain go test runs them with the seeds below.

// fuzzSleep is the argument of the fuzz targets' sleep processes, unusual
// enough to find a leaked one with pgrep -f "sleep 3607".
const fuzzSleep = "3607"

// fuzzDaemon is the test daemon with shutdown and restart only counted, so
// a fuzzed supervisor.shutdown does not end the engine for every later
// input.
type fuzzDaemon struct{ *xrtDaemon }

func (fuzzDaemon) Shutdown()      {}
func (fuzzDaemon) Restart() error { return nil }

// fuzzServer is a control server over a real engine running two sleep
// processes, with one more program configured but stopped and one group
// available but not added, so that every method has something to act on.
// Everything is stopped and reaped in f.Cleanup.
func fuzzServer(f testing.TB) *Server {
	f.Helper()
	dir, err := os.MkdirTemp("", "tendf")
	if err != nil {
		f.Fatal(err)
	}
	spec := func(group, name string, autostart bool) supervisor.Spec {
		s := xrtSpec(group, name, "sleep", fuzzSleep)
		s.StopWait = 200 * time.Millisecond // a fuzzed SIGSTOP must not slow every stop
		s.AutoStart = autostart
		return s
	}
	inUse := []supervisor.Spec{spec("a", "a", true), spec("b", "b", true), spec("idle", "idle", false)}
	avail := append(append([]supervisor.Spec(nil), inUse...), spec("later", "later", true))
	eng := supervisor.New(supervisor.Config{ChildLogDir: dir})
	ml, err := logfile.Open(filepath.Join(dir, "tend.log"), 0, 0)
	if err != nil {
		f.Fatal(err)
	}
	ml.Write([]byte("2026-01-01 00:00:00,000 INFO supervisord started\n"))
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		eng.Shutdown(ctx)
		ml.Close()
		os.RemoveAll(dir)
	})
	if _, err := eng.Update(context.Background(), inUse); err != nil {
		f.Fatal(err)
	}
	d := fuzzDaemon{&xrtDaemon{eng: eng, specs: avail}}
	return New(Options{Engine: eng, Daemon: d, MainLog: ml})
}

// fuzzServe runs one request through the server's handler (guard and auth
// gate included) with a deadline, so no input can hang the fuzzer.
func fuzzServe(srv *Server, method, target, ctype string, body []byte) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := httptest.NewRequest(method, target, bytes.NewReader(body)).WithContext(ctx)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// xmlWellFormed reads data as XML to the end.
func xmlWellFormed(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// FuzzXMLRPCDispatch sends whole requests through the handler to a real
// engine. Whatever the body, the answer is a 200 text/xml well-formed
// methodResponse carrying one value or a fault with a code and a string,
// and nothing panics.
func FuzzXMLRPCDispatch(f *testing.F) {
	srv := fuzzServer(f)
	multi := func(calls ...xrStruct) []byte {
		list := make([]any, len(calls))
		for i, c := range calls {
			list[i] = c
		}
		return xrtRequest("system.multicall", list)
	}
	call := func(m string, params ...any) xrStruct {
		return xrStruct{{"methodName", m}, {"params", params}}
	}
	for _, body := range [][]byte{
		xrtRequest("supervisor.getState"),
		xrtRequest("supervisor.getAllProcessInfo"),
		xrtRequest("supervisor.getProcessInfo", "a"),
		xrtRequest("supervisor.stopProcess", "a", true),
		xrtRequest("supervisor.startProcess", "a", false),
		xrtRequest("supervisor.startProcess", "idle"),
		xrtRequest("supervisor.stopProcessGroup", "b"),
		xrtRequest("supervisor.startAllProcesses", true),
		xrtRequest("supervisor.signalProcess", "b", "HUP"),
		xrtRequest("supervisor.signalAllProcesses", "USR1"),
		xrtRequest("supervisor.signalProcess", "a", "NOSUCH"),
		xrtRequest("supervisor.sendProcessStdin", "a", "hello\n"),
		xrtRequest("supervisor.readProcessStdoutLog", "a", int64(-100), int64(0)),
		xrtRequest("supervisor.tailProcessStderrLog", "b", int64(0), int64(1<<40)),
		xrtRequest("supervisor.readLog", int64(0), int64(0)),
		xrtRequest("supervisor.clearProcessLogs", "a"),
		xrtRequest("supervisor.reloadConfig"),
		xrtRequest("supervisor.addProcessGroup", "later"),
		xrtRequest("supervisor.removeProcessGroup", "later"),
		xrtRequest("supervisor.getAllConfigInfo"),
		xrtRequest("supervisor.shutdown"),
		xrtRequest("system.listMethods"),
		xrtRequest("system.methodHelp", "supervisor.startProcess"),
		xrtRequest("system.methodSignature", "nosuch"),
		xrtRequest("supervisor.getProcessInfo", int64(7)),
		xrtRequest("supervisor.startProcess"),
		xrtRequest("supervisor.__init__"),
		multi(call("supervisor.getPID"), call("supervisor.stopProcess", "b"), call("system.multicall", []any{}), call("nosuch")),
		multi(xrStruct{{"methodName", int64(1)}}, xrStruct{}),
		[]byte(`<methodCall><methodName>supervisor.startProcessGroup</methodName><params><param><value>a</value></param><param><value><boolean>0</boolean></value></param></params></methodCall>`),
		[]byte(`<methodCall><methodName>supervisor.getState</methodName><params><param><value><struct><member><name>x</name><value><nil/></value></member></struct></value></param></params></methodCall>`),
		[]byte(`<methodCall><methodName>supervisor.getState`),
		[]byte("<?xml version='1.0' encoding='latin-1'?><methodCall><methodName>supervisor.getState</methodName></methodCall>"),
		[]byte(""),
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := fuzzServe(srv, "POST", "/RPC2", "text/xml", body)
		data := rec.Body.Bytes()
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/xml" {
			t.Fatalf("answer %d %q: %q", rec.Code, rec.Header().Get("Content-Type"), data)
		}
		if err := xmlWellFormed(data); err != nil {
			t.Fatalf("answer is not well-formed XML (%v): %q", err, data)
		}
		_, fault, err := xrtParseResponse(data)
		if err != nil {
			t.Fatalf("answer is not a methodResponse (%v): %q", err, data)
		}
		if fault != nil && (fault.Code == 0 || fault.String == "") {
			t.Fatalf("fault without code or string: %q", data)
		}
	})
}

// jsonEndpoints are the /v1 endpoints the JSON fuzz target drives. POST
// ones get the fuzzed body; GET ones get it as their query string (without
// follow, which would stream until the deadline).
var jsonEndpoints = []struct{ method, path string }{
	{"POST", "/v1/start"}, {"POST", "/v1/stop"}, {"POST", "/v1/signal"}, {"POST", "/v1/pid"},
	{"POST", "/v1/clear"}, {"POST", "/v1/restart"}, {"POST", "/v1/reread"}, {"POST", "/v1/update"},
	{"POST", "/v1/reload"}, {"POST", "/v1/shutdown"}, {"POST", "/v1/scale"}, {"POST", "/v1/eval"},
	{"GET", "/v1/status"}, {"GET", "/v1/avail"}, {"GET", "/v1/tail"}, {"GET", "/v1/maintail"},
	{"GET", "/v1/version"}, {"GET", "/v1/complete"},
}

// FuzzJSONAPI sends fuzzed bodies to every /v1 endpoint through the
// handler, against a real engine. Nothing panics; every answer has a
// sensible status and is JSON (a tail, plain text), and every error is an
// ErrorReply naming a fault.
func FuzzJSONAPI(f *testing.F) {
	srv := fuzzServer(f)
	index := map[string]uint8{}
	for i, e := range jsonEndpoints {
		index[e.path] = uint8(i)
	}
	for _, s := range []struct{ path, body string }{
		{"/v1/start", `{"names":["a"]}`}, {"/v1/start", `{"names":["all"],"nowait":true}`},
		{"/v1/stop", `{"names":["b","a:*"]}`}, {"/v1/stop", `{"names":[]}`},
		{"/v1/signal", `{"names":["a"],"signal":"HUP"}`}, {"/v1/signal", `{"names":["all"],"signal":"SIGNOPE"}`},
		{"/v1/pid", `{"names":["all"]}`}, {"/v1/clear", `{"names":["a","nosuch"]}`},
		{"/v1/restart", `{"names":["b"]}`}, {"/v1/update", `{"groups":["later"]}`}, {"/v1/update", ``},
		{"/v1/scale", `{"program":"a","n":-1}`}, {"/v1/eval", `{"chunk":"return 1"}`},
		{"/v1/start", `{"names":"a"}`}, {"/v1/start", `{"names":["a"],"extra":1}`}, {"/v1/stop", `{"names":["a"]} {}`},
		{"/v1/pid", `[`}, {"/v1/pid", "\x00"}, {"/v1/reread", `null`},
		{"/v1/tail", `name=a&channel=stderr&bytes=10`}, {"/v1/tail", `name=nosuch`}, {"/v1/tail", `bytes=-1`},
		{"/v1/maintail", `bytes=99999999999999999999`}, {"/v1/status", ``},
	} {
		f.Add(index[s.path], []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := jsonEndpoints[int(which)%len(jsonEndpoints)]
		var rec *httptest.ResponseRecorder
		if e.method == "GET" {
			q, err := url.ParseQuery(string(body))
			if err != nil {
				return // not a query string a client could send
			}
			q.Del("follow")
			rec = fuzzServe(srv, "GET", e.path+"?"+q.Encode(), "", nil)
		} else {
			rec = fuzzServe(srv, "POST", e.path, "application/json", body)
		}
		data := rec.Body.Bytes()
		switch rec.Code {
		case 200, 400, 404, 409, 422, 500, 503:
		default:
			t.Fatalf("%s %s %q: status %d %q", e.method, e.path, body, rec.Code, data)
		}
		ct := rec.Header().Get("Content-Type")
		if rec.Code == 200 && strings.HasSuffix(e.path, "tail") {
			if !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("%s %q: 200 with content type %q", e.path, body, ct)
			}
			return
		}
		if ct != "application/json" || !json.Valid(data) {
			t.Fatalf("%s %s %q: answer is not JSON (%q): %q", e.method, e.path, body, ct, data)
		}
		if rec.Code != 200 {
			var er ErrorReply
			if err := json.Unmarshal(data, &er); err != nil || er.Error == nil || er.Error.Code == 0 || er.Error.Name == "" {
				t.Fatalf("%s %s %q: %d without an ErrorReply: %q", e.method, e.path, body, rec.Code, data)
			}
		}
	})
}

// TestFuzzServerLeavesNothing: the fuzz fixture's processes, including
// one a request started, are gone once its cleanup has run.
func TestFuzzServerLeavesNothing(t *testing.T) {
	var pids []int
	t.Run("fixture", func(t *testing.T) {
		srv := fuzzServer(t)
		rec := fuzzServe(srv, "POST", "/RPC2", "text/xml", xrtRequest("supervisor.startProcess", "idle"))
		if _, fault, err := xrtParseResponse(rec.Body.Bytes()); err != nil || fault != nil {
			t.Fatalf("start idle: %v %+v", err, fault)
		}
		for _, i := range srv.eng.Status() {
			if i.Pid > 0 {
				pids = append(pids, i.Pid)
			}
		}
	})
	if len(pids) != 3 {
		t.Fatalf("pids %v, want a, b and idle running", pids)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("pid %d outlived the fixture", pid)
		}
	}
}
