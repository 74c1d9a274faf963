package stdlib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// newState returns a state with the base libraries and every module.
func newState(t *testing.T, o Options) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	Preload(L, o)
	return L
}

// run executes src and returns its first result as a string.
func run(t *testing.T, L *lua.LState, src string) string {
	t.Helper()
	if err := L.DoString(src); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	defer L.SetTop(0)
	return L.ToStringMeta(L.Get(-1)).String()
}

// fails executes src and returns its error message.
func fails(t *testing.T, L *lua.LState, src string) string {
	t.Helper()
	err := L.DoString(src)
	if err == nil {
		t.Fatalf("%s: succeeded, want an error", src)
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		return ae.Object.String()
	}
	return err.Error()
}

func TestModules(t *testing.T) {
	want := []string{"bytes", "env", "fs", "json", "log", "policy", "shell", "sv", "sys"}
	if got := Modules(); !reflect.DeepEqual(got, want) {
		t.Errorf("Modules() = %v", got)
	}
}

// splitCorners are command lines whose words must be what Python's
// shlex.split (supervisord's splitter) gives.
var splitCorners = []string{
	`nginx -g 'daemon off;'`,
	`a"b c"d`,
	`printf "col1\tcol2\n"`,
	`printf 'col1\tcol2\n'`,
	`printf col1\tcol2`,
	`echo "a \"quoted\" word" "back\\slash" "\$HOME" "\x" "\` + "`" + `cmd\` + "`" + `"`,
	`echo 'it'\''s' "it's" it\'s`,
	`echo a\ b c\\d \e`,
	`python app.py # start app`,
	`#x y#z`,
	`a;b|c&d $HOME *.log`,
	`a '' b "" c`,
	`''`,
	`a''b "x"'y'z`,
	" \t a\tb\r\nc  ",
	"x\vy\fz \u00a0w h\u00e9llo",
	`'a\'b'`,
	`echo don't`,
	`echo "unterminated`,
	`trailing\`,
	`"ends in \`,
	`   `,
	``,
	`# only a comment`,
	`/bin/sleep 100`,
}

// TestSplitMatchesShlex checks Split against Python's shlex.split, which
// is how supervisord splits a command, over splitCorners and a few
// thousand random strings of the characters that matter. A case shlex
// refuses, or splits into no words, must be an error.
func TestSplitMatchesShlex(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is needed to compare with shlex.split")
		}
		t.Skip("python3 not found: cannot compare with shlex.split")
	}
	inputs := slices.Clone(splitCorners)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab \t\n\"'\\#$`é"
	runes := []rune(alphabet)
	for range 3000 {
		w := make([]rune, rng.IntN(12))
		for i := range w {
			w[i] = runes[rng.IntN(len(runes))]
		}
		if s := string(w); !strings.Contains(s, "\\\n") { // continuations are tend's own
			inputs = append(inputs, s)
		}
	}
	// One python3 for every input: a JSON list in, a JSON list out (null
	// where shlex raises).
	const script = `import shlex, json, sys
out = []
for s in json.load(sys.stdin):
    try:
        out.append(shlex.split(s))
    except ValueError:
        out.append(None)
json.dump(out, sys.stdout)`
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var wants [][]string
	if err := json.Unmarshal(out, &wants); err != nil || len(wants) != len(inputs) {
		t.Fatalf("python3 printed %d results for %d inputs: %v", len(wants), len(inputs), err)
	}
	for i, in := range inputs {
		want := wants[i]
		got, err := Split(in)
		if len(want) == 0 {
			if err == nil {
				t.Errorf("Split(%q) = %q; shlex gives %q, so want an error", in, got, want)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Split(%q) = %q, %v; shlex gives %q", in, got, err, want)
		}
	}
}

// TestSplit covers what shlex does not: backslash-newline continuations,
// which Split removes outside single quotes.
func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"nginx \\\n  -g x \\\r\n  -c y", []string{"nginx", "-g", "x", "-c", "y"}},
		{"a\\\nb \"c\\\nd\"", []string{"ab", "cd"}},
		{"'a\\\nb'", []string{"a\\\nb"}},
		{"\\\n", nil},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("Split(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, w := range [][]string{{"a b", "it's", "", "plain", "$x"}} {
		if got, err := Split(Join(w)); err != nil || !reflect.DeepEqual(got, w) {
			t.Errorf("Split(Join(%q)) = %q, %v", w, got, err)
		}
	}
	L := newState(t, Options{})
	if got := run(t, L, `local s = require "shell"; return table.concat(s.split("a 'b c'"), "|") .. " " .. s.quote({"x y", "z"})`); got != "a|b c 'x y' z" {
		t.Errorf("lua shell: %q", got)
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"50MB", 50 << 20}, {"1kb", 1024}, {"1GB", 1 << 30}, {"123", 123}, {"10KiB", 10240}, {"1.5GB", 1500000000},
	}
	for _, tt := range tests {
		if got, err := ParseBytes(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseBytes("lots"); err == nil {
		t.Error("ParseBytes(lots) succeeded")
	}
	L := newState(t, Options{})
	if got := run(t, L, `local b = require "bytes"; return b.format(b.parse("50MB")) .. "/" .. b.format(52428800, "si")`); got != "50 MiB/52 MB" {
		t.Errorf("lua bytes: %q", got)
	}
	if msg := fails(t, L, `require("bytes").parse("x")`); !strings.Contains(msg, `bytes.parse: invalid size "x"`) {
		t.Errorf("error: %s", msg)
	}
}

func TestJSON(t *testing.T) {
	L := newState(t, Options{})
	got := run(t, L, `local json = require "json"
local s = json.encode({ b = { 1, 2.5, "x" }, a = true, e = {}, n = 3 })
local back = json.decode(s)
return s .. " " .. back.b[3] .. " " .. tostring(back.a) .. " " .. json.encode(json.decode('[1,null,"z"]'))`)
	if got != `{"a":true,"b":[1,2.5,"x"],"e":{},"n":3} x true {"1":1,"3":"z"}` {
		t.Errorf("json: %q", got)
	}
	if msg := fails(t, L, `local t = {}; t.t = t; require("json").encode(t)`); !strings.Contains(msg, "json.encode: nesting deeper than") {
		t.Errorf("cycle: %s", msg)
	}
	if msg := fails(t, L, `require("json").decode("{")`); !strings.Contains(msg, "json.decode:") {
		t.Errorf("bad json: %s", msg)
	}
}

func TestFSAndEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("x"), 0o644)
	t.Setenv("TEND_STDLIB_TEST", "yes")
	L := newState(t, Options{Dir: dir})
	got := run(t, L, `local fs, env = require "fs", require "env"
return table.concat({ tostring(fs.exists("a.txt")), tostring(fs.exists("nope")), fs.read("a.txt"),
  #fs.glob("*.txt"), fs.basename(fs.join("x", "y.lua")), fs.dirname("/a/b"), select(2, fs.read("nope")) and "err" or "?",
  env.get("TEND_STDLIB_TEST"), env.get("TEND_NOPE_X", "dflt"), env.all().TEND_STDLIB_TEST }, " ")`)
	if got != "true false hello 2 y.lua /a err yes dflt yes" {
		t.Errorf("fs/env: %q", got)
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	L := newState(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := L.DoString("local log = require 'log'\nlog.warn('disk', 90, 'full')\nlog.debug('d')"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="<string>:2: disk 90 full"`) || !strings.Contains(out, `level=DEBUG msg="<string>:3: d"`) {
		t.Errorf("log output:\n%s", out)
	}
}

func TestSys(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(s), 0o644)
	}
	write("proc/meminfo", "MemTotal:       8000000 kB\nMemFree: 1 kB\n")
	write("proc/self/cgroup", "0::/app\n")
	write("sys/fs/cgroup/app/cpu.max", "150000 100000\n")
	write("sys/fs/cgroup/app/memory.max", "1073741824\n")
	write("sys/devices/system/cpu/online", "0-3,6\n")
	if n, want := CPUs(root), min(2, CPUs("/nonexistent")); n != want {
		t.Errorf("CPUs with a 1.5 CPU quota = %d, want %d", n, want)
	}
	if n := onlineCPUs(root); n != 5 {
		t.Errorf("online CPUs = %d, want 5", n)
	}
	if n, err := memTotal(root); err != nil || n != 8000000*1024 {
		t.Errorf("memTotal = %d, %v", n, err)
	}
	if n, ok := memLimit(root); !ok || n != 1<<30 {
		t.Errorf("memLimit = %d, %v", n, ok)
	}
	// cgroup v1 and "max" (no limit).
	write("proc/self/cgroup", "4:cpu,cpuacct:/\n5:memory:/\n")
	write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
	write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
	if n := CPUs(root); n != CPUs("/nonexistent") {
		t.Errorf("CPUs without a quota = %d", n)
	}
	if _, ok := memLimit(root); ok {
		t.Error("memLimit found a limit where there is none")
	}
	write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "50000\n")
	if n := CPUs(root); n != 1 {
		t.Errorf("CPUs with a v1 0.5 quota = %d, want 1", n)
	}
	L := newState(t, Options{})
	got := run(t, L, `local sys = require "sys"
local a, b, c = sys.loadavg()
return table.concat({ type(sys.cpus()), type(sys.cpus_online()), type(sys.memory()), type(sys.hostname()), type(a), type(c) }, " ")`)
	if got != "number number number string number number" {
		t.Errorf("lua sys: %q", got)
	}
}

// fakeControl records calls.
type fakeControl struct{ calls []string }

func (f *fakeControl) Status(p string) ([]supervisor.Info, error) {
	f.calls = append(f.calls, "status "+p)
	if p == "bad" {
		return nil, &supervisor.Error{Fault: supervisor.FaultBadName, Detail: p}
	}
	return []supervisor.Info{{Name: "web", Group: "web", Program: "web", State: supervisor.Running, Pid: 42,
		Probe: "failing 2/3", ProbeError: "GET http://x/: 503", Watchdog: "30s, last ping 1s ago", KillReason: "watchdog timeout after 30s"},
		{Name: "api", Group: "api", Program: "api", Waiting: "web (ready)",
			Requires: []supervisor.Requirement{{Name: "web", Condition: supervisor.CondReady}}}}, nil
}
func (f *fakeControl) Start(n string) error   { f.calls = append(f.calls, "start "+n); return nil }
func (f *fakeControl) Stop(n string) error    { f.calls = append(f.calls, "stop "+n); return nil }
func (f *fakeControl) Restart(n string) error { f.calls = append(f.calls, "restart "+n); return nil }
func (f *fakeControl) Signal(n, s string) error {
	f.calls = append(f.calls, "signal "+n+" "+s)
	return nil
}
func (f *fakeControl) Scale(p string, n int) error {
	f.calls = append(f.calls, "scale "+p+" "+string(rune('0'+n)))
	return nil
}
func (f *fakeControl) Update() error { f.calls = append(f.calls, "update"); return nil }
func (f *fakeControl) Roll(n string, surge, down int) error {
	f.calls = append(f.calls, fmt.Sprintf("roll %s %d %d", n, surge, down))
	return nil
}
func (f *fakeControl) Events() ([]supervisor.StateChange, error) {
	f.calls = append(f.calls, "events")
	return []supervisor.StateChange{
		{Time: time.Unix(100, 5e8), Process: "web", Group: "web", From: supervisor.Running, To: supervisor.Exited, Pid: 42, ExitCode: 3, Reason: "exit status 3"},
		{Time: time.Unix(101, 0), Process: "w1", Group: "grp", From: supervisor.Stopped, To: supervisor.Starting},
	}, nil
}

// sv.events lists the state changes, filtered by name like sv.status.
func TestSVEvents(t *testing.T) {
	L := newState(t, Options{Control: &fakeControl{}})
	got := run(t, L, `local sv = require "sv"
local all, web = sv.events(), sv.events("web")
local e = web[1]
return #all .. " " .. #web .. " " .. e.time .. " " .. e.namespec .. " " .. e.from .. ">" .. e.to .. " " .. e.pid .. " " .. e.exitcode .. " " .. e.reason .. " " .. #sv.events("grp:*")`)
	if want := "2 1 100.5 web RUNNING>EXITED 42 3 exit status 3 1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSV(t *testing.T) {
	fc := &fakeControl{}
	L := newState(t, Options{Control: fc})
	got := run(t, L, `local sv = require "sv"
local st = sv.status("web")
sv.start("web"); sv.stop("g:*"); sv.restart("all"); sv.signal("web", "HUP"); sv.scale("web", 3); sv.update(); sv.reload()
local none = next(st[1].requires) == nil and st[1].waiting == ""
return st[1].name .. " " .. st[1].state .. " " .. st[1].pid .. " " .. tostring(none) ..
  " | " .. st[1].probe .. " | " .. st[1].probe_error .. " | " .. st[1].watchdog .. " | " .. st[1].kill_reason ..
  " | " .. st[2].name .. " waits for " .. st[2].waiting .. ", requires web " .. st[2].requires.web`)
	if got != "web RUNNING 42 true | failing 2/3 | GET http://x/: 503 | 30s, last ping 1s ago | watchdog timeout after 30s | api waits for web (ready), requires web ready" {
		t.Errorf("status: %q", got)
	}
	want := []string{"status web", "start web", "stop g:*", "restart all", "signal web HUP", "scale web 3", "update", "update"}
	if !reflect.DeepEqual(fc.calls, want) {
		t.Errorf("calls = %q", fc.calls)
	}
	if msg := fails(t, L, `require("sv").status("bad")`); !strings.Contains(msg, "sv.status: BAD_NAME: bad") {
		t.Errorf("fault: %s", msg)
	}
	L2 := newState(t, Options{})
	if msg := fails(t, L2, `require("sv").start("web")`); !strings.Contains(msg, "sv.start: not attached to a running daemon") {
		t.Errorf("detached: %s", msg)
	}
}

// sv.roll passes its limits (max_surge 1 and max_unavailable 0 by
// default) and refuses unknown or bad options.
func TestSVRoll(t *testing.T) {
	fc := &fakeControl{}
	L := newState(t, Options{Control: fc})
	run(t, L, `local sv = require "sv"
sv.roll("web:*"); sv.roll("api", {max_surge = 2}); sv.roll("all", {max_surge = 0, max_unavailable = 1})`)
	want := []string{"roll web:* 1 0", "roll api 2 0", "roll all 0 1"}
	if !reflect.DeepEqual(fc.calls, want) {
		t.Errorf("calls = %q", fc.calls)
	}
	for chunk, msg := range map[string]string{
		`require("sv").roll("web", {surge = 2})`:       "unknown option surge",
		`require("sv").roll("web", {max_surge = -1})`:  "max_surge must be a whole number >= 0",
		`require("sv").roll("web", {max_surge = 1.5})`: "max_surge must be a whole number >= 0",
	} {
		if got := fails(t, L, chunk); !strings.Contains(got, msg) {
			t.Errorf("%s: %s, want %q", chunk, got, msg)
		}
	}
}

// The plain fast path must agree with the full splitter on every string
// it accepts.
func FuzzSplitPlain(f *testing.F) {
	for _, s := range []string{"a b", " x\ty\r\nz ", "/bin/sleep 100", "héllo wörld", "a\x00b c", "\u00a0x y\u2028", "", "\xff a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := splitPlain(s)
		if !ok {
			return
		}
		want, err := splitShlex(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("splitPlain(%q) = %q; splitShlex gives %q, %v", s, got, want, err)
		}
	})
}
