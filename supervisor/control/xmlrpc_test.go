package control

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor"
)

// TestXMLRPCFaults checks every method's faults and the protocol errors:
// unknown method, wrong argument count, bad argument types.
func TestXMLRPCFaults(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	tests := []struct {
		method string
		params []any
		code   int
		str    string
	}{
		{"supervisor.nosuch", nil, 1, "UNKNOWN_METHOD"},
		{"supervisor._update", nil, 1, "UNKNOWN_METHOD"},
		{"supervisor.getProcessInfo.__class__", nil, 1, "UNKNOWN_METHOD"},
		{"system.eval", []any{"os.exit()"}, 1, "UNKNOWN_METHOD"},
		{"supervisor.getProcessInfo", nil, 2, "INCORRECT_PARAMETERS"},
		{"supervisor.getProcessInfo", []any{"a", "b"}, 2, "INCORRECT_PARAMETERS"},
		{"supervisor.getState", []any{"x"}, 2, "INCORRECT_PARAMETERS"},
		{"supervisor.startProcess", []any{"a", true, true}, 2, "INCORRECT_PARAMETERS"},
		{"supervisor.getProcessInfo", []any{int64(3)}, 2, "INCORRECT_PARAMETERS: parameter 1 must be a string"},
		{"supervisor.getProcessInfo", []any{"nosuch"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.startProcess", []any{"nosuch"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.startProcess", []any{"sleeper"}, 60, "ALREADY_STARTED: sleeper"},
		{"supervisor.stopProcess", []any{"idle"}, 70, "NOT_RUNNING: idle"},
		{"supervisor.stopProcess", []any{"nosuch"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.signalProcess", []any{"sleeper", "BOGUS"}, 11, "BAD_SIGNAL: BOGUS"},
		{"supervisor.signalProcess", []any{"nosuch", "BOGUS"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.signalProcess", []any{"idle", "HUP"}, 70, "NOT_RUNNING: idle"},
		{"supervisor.startProcessGroup", []any{"nogroup"}, 10, "BAD_NAME: nogroup"},
		{"supervisor.stopProcessGroup", []any{"nogroup"}, 10, "BAD_NAME: nogroup"},
		{"supervisor.signalProcessGroup", []any{"nogroup", "HUP"}, 10, "BAD_NAME: nogroup"},
		{"supervisor.readProcessStdoutLog", []any{"nosuch", int64(0), int64(0)}, 10, "BAD_NAME: nosuch"},
		{"supervisor.readProcessStdoutLog", []any{"talker", int64(-5), int64(3)}, 3, "BAD_ARGUMENTS: talker"},
		{"supervisor.readProcessStderrLog", []any{"idle", int64(0), int64(0)}, 20, "NO_FILE: idle"},
		{"supervisor.tailProcessStdoutLog", []any{"nosuch", int64(0), int64(10)}, 10, "BAD_NAME: nosuch"},
		{"supervisor.readLog", []any{int64(-1), int64(5)}, 3, "BAD_ARGUMENTS"},
		{"supervisor.clearProcessLogs", []any{"nosuch"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.sendProcessStdin", []any{"idle", "x"}, 70, "NOT_RUNNING: idle"},
		{"supervisor.sendProcessStdin", []any{"sleeper", int64(1)}, 2, "INCORRECT_PARAMETERS: chars must be a string"},
		{"supervisor.sendProcessStdin", []any{"nosuch", "x"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.addProcessGroup", []any{"nosuch"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.addProcessGroup", []any{"sleeper"}, 90, "ALREADY_ADDED: sleeper"},
		{"supervisor.removeProcessGroup", []any{"nosuch"}, 10, "BAD_NAME: nosuch"},
		{"supervisor.removeProcessGroup", []any{"sleeper"}, 91, "STILL_RUNNING: sleeper"},
		{"system.methodHelp", []any{"nosuch"}, 4, "SIGNATURE_UNSUPPORTED"},
		{"system.methodSignature", []any{"nosuch"}, 4, "SIGNATURE_UNSUPPORTED"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			v, f := env.call(t, tt.method, tt.params...)
			if f == nil || f.Code != tt.code || f.String != tt.str {
				t.Errorf("%s%v = %#v, fault %+v; want fault %d %q", tt.method, tt.params, v, f, tt.code, tt.str)
			}
		})
	}
}

// TestXMLRPCMalformed sends bodies that are not valid XML-RPC: each gets a
// fault, and the server keeps answering.
func TestXMLRPCMalformed(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse[:1], avail[:1], "", "")
	bodies := map[string]string{
		"empty":        "",
		"not xml":      "hello",
		"wrong root":   "<methodResponse/>",
		"no name":      "<methodCall><params/></methodCall>",
		"unclosed":     "<methodCall><methodName>supervisor.getPID</methodName>",
		"bad int":      "<methodCall><methodName>x</methodName><params><param><value><int>1x</int></value></param></params></methodCall>",
		"unknown type": "<methodCall><methodName>x</methodName><params><param><value><blob>1</blob></value></param></params></methodCall>",
		"deep":         "<methodCall><methodName>x</methodName><params><param>" + strings.Repeat("<value><array><data>", 100) + "</params></methodCall>",
		"trailing":     "<methodCall><methodName>x</methodName></methodCall><methodCall/>",
		"entity":       `<!DOCTYPE m [<!ENTITY e "x">]><methodCall><methodName>&e;</methodName></methodCall>`,
		"oversized":    "<methodCall><methodName>supervisor.sendProcessStdin</methodName><params><param><value>" + strings.Repeat("A", maxXMLRPCBody) + "</value></param></params></methodCall>",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			_, f := env.rpcRaw(t, []byte(body))
			if f == nil || f.Code != 2 || !strings.HasPrefix(f.String, "INCORRECT_PARAMETERS: ") {
				t.Errorf("fault %+v, want INCORRECT_PARAMETERS", f)
			}
			if name == "oversized" && !strings.Contains(f.String, "exceeds") {
				t.Errorf("oversized body: %q", f.String)
			}
		})
	}
	if v := env.mustCall(t, "supervisor.getAPIVersion"); v != "3.0" {
		t.Errorf("after bad requests getAPIVersion = %v", v)
	}
	resp, err := env.unixClient().Get("http://tend/RPC2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /RPC2: %s", resp.Status)
	}
}

// TestXMLRPCMethods calls every method that succeeds and checks the values
// and struct fields.
func TestXMLRPCMethods(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	env.eng.WaitState("talker", supervisor.Running)
	env.waitTalkerOutput(t)

	simple := []struct {
		method string
		params []any
		want   any
	}{
		{"supervisor.getAPIVersion", nil, "3.0"},
		{"supervisor.getVersion", nil, "3.0"},
		{"supervisor.getSupervisorVersion", nil, "4.2.5"},
		{"supervisor.getIdentification", nil, "supervisor"},
		{"supervisor.getPID", nil, int64(os.Getpid())},
		{"supervisor.readProcessStdoutLog", []any{"talker", int64(0), int64(0)}, "hello\n"},
		{"supervisor.readProcessLog", []any{"talker", int64(-3), int64(0)}, "lo\n"},
		{"supervisor.readProcessStderrLog", []any{"talker", int64(0), int64(2)}, "oo"},
		{"supervisor.signalProcess", []any{"sleeper", "CONT"}, true},
		{"supervisor.signalProcess", []any{"sleeper", int64(18)}, true},
		{"supervisor.sendRemoteCommEvent", []any{"t", "d"}, true},
		{"supervisor.startProcess", []any{"idle", false}, true},
		{"supervisor.stopProcess", []any{"idle"}, true},
		{"supervisor.startProcess", []any{"idle", true}, true},
		{"supervisor.stopProcess", []any{"idle", true}, true},
		{"supervisor.clearProcessLog", []any{"idle"}, true},
		{"supervisor.readLog", []any{int64(0), int64(4)}, "2026"},
		{"supervisor.readMainLog", []any{int64(-4), int64(0)}, "d 1\n"},
		{"supervisor.restart", nil, true},
	}
	for _, tt := range simple {
		if v := env.mustCall(t, tt.method, tt.params...); v != tt.want {
			t.Errorf("%s%v = %#v, want %#v", tt.method, tt.params, v, tt.want)
		}
	}
	if env.daemon.restarts != 1 {
		t.Errorf("restart: daemon restarted %d times", env.daemon.restarts)
	}

	st := env.mustCall(t, "supervisor.getState")
	if xrtField(t, st, "statecode") != int64(1) || xrtField(t, st, "statename") != "RUNNING" {
		t.Errorf("getState = %#v", st)
	}

	info := env.mustCall(t, "supervisor.getProcessInfo", "sleeper")
	want := []string{"name", "group", "start", "stop", "now", "state", "statename", "spawnerr", "exitstatus",
		"logfile", "stdout_logfile", "stderr_logfile", "pid", "description"}
	var got []string
	for _, m := range info.(xrStruct) {
		got = append(got, m.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("getProcessInfo fields %v, want %v", got, want)
	}
	sinfo, _ := env.eng.Info("sleeper")
	if xrtField(t, info, "pid") != int64(sinfo.Pid) || xrtField(t, info, "state") != int64(20) ||
		xrtField(t, info, "statename") != "RUNNING" || xrtField(t, info, "start") != sinfo.Start.Unix() ||
		xrtField(t, info, "description") != sinfo.Description() ||
		xrtField(t, info, "logfile") != sinfo.StdoutLogfile || sinfo.StdoutLogfile == "" {
		t.Errorf("getProcessInfo(sleeper) = %#v; engine %+v", info, sinfo)
	}
	idle := env.mustCall(t, "supervisor.getProcessInfo", "idle")
	if xrtField(t, idle, "pid") != int64(0) || xrtField(t, idle, "statename") != "STOPPED" {
		t.Errorf("getProcessInfo(idle) = %#v", idle)
	}

	all := env.mustCall(t, "supervisor.getAllProcessInfo").([]any)
	var names []string
	for _, p := range all {
		names = append(names, xrtField(t, p, "group").(string)+":"+xrtField(t, p, "name").(string))
	}
	if strings.Join(names, ",") != "grp:w1,grp:w2,idle:idle,sleeper:sleeper,talker:talker" {
		t.Errorf("getAllProcessInfo order %v", names)
	}

	cfg := env.mustCall(t, "supervisor.getAllConfigInfo").([]any)
	if len(cfg) != 6 {
		t.Fatalf("getAllConfigInfo: %d entries", len(cfg))
	}
	for _, c := range cfg {
		if xrtField(t, c, "name") == "newone" && xrtField(t, c, "inuse") != false {
			t.Errorf("newone in use: %#v", c)
		}
		if xrtField(t, c, "name") == "idle" {
			if xrtField(t, c, "autostart") != false || xrtField(t, c, "directory") != "none" ||
				xrtField(t, c, "stdout_logfile") != "auto" || xrtField(t, c, "stopsignal") != int64(15) ||
				xrtField(t, c, "stdout_logfile_maxbytes") != int64(52428800) || xrtField(t, c, "command") != "sleep 1000" {
				t.Errorf("idle config %#v", c)
			}
		}
	}

	tail := env.mustCall(t, "supervisor.tailProcessStdoutLog", "talker", int64(0), int64(3)).([]any)
	if tail[0] != "lo\n" || tail[1] != int64(6) || tail[2] != true {
		t.Errorf("tailProcessStdoutLog = %#v", tail)
	}
	tail = env.mustCall(t, "supervisor.tailProcessLog", "idle", int64(0), int64(3)).([]any)
	if tail[0] != "" || tail[1] != int64(0) || tail[2] != false {
		t.Errorf("tail of a missing file = %#v", tail)
	}

	// Group and all-process operations return status structs.
	res := env.mustCall(t, "supervisor.stopProcessGroup", "grp").([]any)
	if len(res) != 2 || xrtField(t, res[0], "status") != int64(80) || xrtField(t, res[0], "description") != "OK" {
		t.Errorf("stopProcessGroup = %#v", res)
	}
	res = env.mustCall(t, "supervisor.startProcess", "grp:*").([]any)
	if len(res) != 2 {
		t.Errorf("startProcess(grp:*) = %#v", res)
	}
	res = env.mustCall(t, "supervisor.signalProcessGroup", "grp", "BOGUS").([]any)
	if len(res) != 2 || xrtField(t, res[0], "status") != int64(11) {
		t.Errorf("signalProcessGroup with a bad signal = %#v", res)
	}
	res = env.mustCall(t, "supervisor.signalAllProcesses", "CONT").([]any)
	if len(res) != 4 {
		t.Errorf("signalAllProcesses = %#v", res)
	}
	res = env.mustCall(t, "supervisor.clearAllProcessLogs").([]any)
	if len(res) != 5 {
		t.Errorf("clearAllProcessLogs = %#v", res)
	}
	if b, _ := env.eng.ReadLog("talker", "stdout", 0, 0); len(b) != 0 {
		t.Errorf("talker log after clearAllProcessLogs: %q", b)
	}
	res = env.mustCall(t, "supervisor.stopAllProcesses").([]any)
	if len(res) != 4 {
		t.Errorf("stopAllProcesses = %#v", res)
	}
	res = env.mustCall(t, "supervisor.startAllProcesses", false).([]any)
	if len(res) != 5 {
		t.Errorf("startAllProcesses = %#v", res)
	}
	env.eng.WaitState("talker", supervisor.Running)

	// stdin reaches the process.
	cat := xrtSpec("cat", "cat", "sh", "-c", "exec cat")
	env.daemon.specs = append(env.daemon.specs, cat)
	if v := env.mustCall(t, "supervisor.addProcessGroup", "cat"); v != true {
		t.Fatalf("addProcessGroup = %v", v)
	}
	env.eng.WaitState("cat", supervisor.Running)
	env.mustCall(t, "supervisor.sendProcessStdin", "cat", "ping\n")
	xrtWaitFor(t, "cat echo", func() bool {
		b, _ := env.eng.ReadLog("cat", "stdout", 0, 0)
		return string(b) == "ping\n"
	})

	// reloadConfig and the update dance supervisorctl does.
	rc := env.mustCall(t, "supervisor.reloadConfig").([]any)
	if len(rc) != 1 || len(rc[0].([]any)) != 3 || len(rc[0].([]any)[0].([]any)) != 1 || rc[0].([]any)[0].([]any)[0] != "newone" {
		t.Errorf("reloadConfig = %#v", rc)
	}
	env.daemon.rereadErr = errors.New("tend.lua:3: bad")
	if _, f := env.call(t, "supervisor.reloadConfig"); f == nil || f.Code != 92 || f.String != "CANT_REREAD: tend.lua:3: bad" {
		t.Errorf("reloadConfig with a config error: %+v", f)
	}
	env.daemon.rereadErr = nil
	env.mustCall(t, "supervisor.stopProcessGroup", "cat")
	if v := env.mustCall(t, "supervisor.removeProcessGroup", "cat"); v != true {
		t.Errorf("removeProcessGroup = %v", v)
	}
	if _, err := env.eng.Info("cat"); err == nil {
		t.Errorf("cat still present after removeProcessGroup")
	}

	// Introspection.
	methods := env.mustCall(t, "system.listMethods").([]any)
	if len(methods) != 41 || !slices.Contains(methods, any("supervisor.tailProcessStderrLog")) {
		t.Errorf("listMethods: %d methods %v", len(methods), methods)
	}
	sig := env.mustCall(t, "system.methodSignature", "supervisor.startProcess").([]any)
	if len(sig) != 3 || sig[0] != "boolean" || sig[1] != "string" || sig[2] != "boolean" {
		t.Errorf("methodSignature = %v", sig)
	}
	if h := env.mustCall(t, "system.methodHelp", "supervisor.getPID").(string); !strings.Contains(h, "@return int") {
		t.Errorf("methodHelp = %q", h)
	}

	// multicall: bare values and fault structs, no recursion.
	mc := env.mustCall(t, "system.multicall", []any{
		xrStruct{{"methodName", "supervisor.getPID"}, {"params", []any{}}},
		xrStruct{{"methodName", "supervisor.getProcessInfo"}, {"params", []any{"nosuch"}}},
		xrStruct{{"methodName", "system.multicall"}, {"params", []any{[]any{}}}},
		xrStruct{{"params", []any{}}},
		xrStruct{{"methodName", "supervisor.getAPIVersion"}},
	}).([]any)
	if len(mc) != 5 || mc[0] != int64(os.Getpid()) || mc[4] != "3.0" ||
		xrtField(t, mc[1], "faultCode") != int64(10) || xrtField(t, mc[1], "faultString") != "BAD_NAME: nosuch" ||
		xrtField(t, mc[2], "faultCode") != int64(2) || xrtField(t, mc[3], "faultCode") != int64(2) {
		t.Errorf("multicall = %#v", mc)
	}

	if v := env.mustCall(t, "supervisor.clearLog"); v != true {
		t.Errorf("clearLog = %v", v)
	}
	if v := env.mustCall(t, "supervisor.readLog", int64(0), int64(0)); v != "" {
		t.Errorf("main log after clearLog: %q", v)
	}

	// shutdown, then SHUTDOWN_STATE for everything but introspection.
	if v := env.mustCall(t, "supervisor.shutdown"); v != true {
		t.Errorf("shutdown = %v", v)
	}
	xrtWaitFor(t, "shutdown", env.eng.ShuttingDown)
	for _, m := range []string{"supervisor.getState", "supervisor.getAllProcessInfo", "supervisor.getAPIVersion"} {
		if _, f := env.call(t, m); f == nil || f.Code != 6 || f.String != "SHUTDOWN_STATE" {
			t.Errorf("%s while shutting down: %+v", m, f)
		}
	}
	if _, f := env.call(t, "system.listMethods"); f != nil {
		t.Errorf("listMethods while shutting down: %+v", f)
	}
}

// TestXMLRPCNoMainLog: without a main log, readLog and clearLog are NO_FILE
// and /mainlogtail is 404.
func TestXMLRPCNoMainLog(t *testing.T) {
	eng := supervisor.New(supervisor.Config{ChildLogDir: t.TempDir()})
	defer eng.Shutdown(context.Background())
	srv := New(Options{Engine: eng})
	for _, m := range []string{"supervisor.clearLog", "supervisor.readLog"} {
		params := []any{}
		if m == "supervisor.readLog" {
			params = []any{int64(0), int64(0)}
		}
		req, _ := http.NewRequest("POST", "/RPC2", bytes.NewReader(xrtRequest(m, params...)))
		req.Header.Set("Content-Type", "text/xml")
		w := &xrtRecorder{header: http.Header{}}
		srv.ServeHTTP(w, req)
		_, f, err := xrtParseResponse(w.body.Bytes())
		if err != nil || f == nil || f.Code != 20 {
			t.Errorf("%s without a main log: %v %+v", m, err, f)
		}
	}
	req, _ := http.NewRequest("GET", "/mainlogtail", nil)
	w := &xrtRecorder{header: http.Header{}}
	srv.ServeHTTP(w, req)
	if w.code != 404 {
		t.Errorf("/mainlogtail without a main log: %d", w.code)
	}
}

// xrtRecorder is a minimal ResponseWriter.
type xrtRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *xrtRecorder) Header() http.Header { return r.header }
func (r *xrtRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}
func (r *xrtRecorder) WriteHeader(code int) { r.code = code }

// TestXMLRPCEncoding checks that log bytes XML cannot carry are replaced,
// and that \r survives.
func TestXMLRPCEncoding(t *testing.T) {
	body := xrEncodeResponse("a\x1b[31mb\r\n\xffc<&>")
	_, _, err := xrtParseResponse(body)
	if err != nil {
		t.Fatalf("response does not parse: %v\n%s", err, body)
	}
	v, _, _ := xrtParseResponse(body)
	if v != "a\uFFFD[31mb\r\n\uFFFDc<&>" {
		t.Errorf("round trip = %q", v)
	}
}
