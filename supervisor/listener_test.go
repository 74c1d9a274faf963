package supervisor

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// listenerScript is a superlance-style event listener in sh. It appends
// every event it gets to $1 as "<header>\n<payload>\n--<answer>\n" and
// answers OK, except in the modes given by $2:
//
//	failonce  answers FAIL to the first event (marker file $1.failed)
//	hangonce  never answers the first event (marker file $1.hung)
//	garbage   prints something other than READY
const listenerScript = `
out=$1; mode=$2
if [ "$mode" = garbage ]; then printf 'HELLO\n'; exec sleep 300; fi
while :; do
  printf 'READY\n'
  IFS= read -r header || exit 0
  len=${header##*len:}
  ans=OK
  if [ "$mode" = failonce ] && [ ! -e "$out.failed" ]; then : > "$out.failed"; ans=FAIL; fi
  { printf '%s\n' "$header"; head -c "$len"; printf '\n--%s\n' "$ans"; } >> "$out"
  if [ "$mode" = hangonce ] && [ ! -e "$out.hung" ]; then : > "$out.hung"; exec sleep 300; fi
  printf 'RESULT %d\n%s' "${#ans}" "$ans"
done
`

// received is one event as the listener script recorded it.
type received struct {
	header map[string]string
	line   string
	body   string
	answer string
}

var recordRE = regexp.MustCompile(`(?s)(ver:3\.0 [^\n]*)\n(.*?)\n--(OK|FAIL)\n`)

func readEvents(path string) []received {
	b, _ := os.ReadFile(path)
	var out []received
	for _, m := range recordRE.FindAllStringSubmatch(string(b), -1) {
		r := received{header: map[string]string{}, line: m[1], body: m[2], answer: m[3]}
		for _, f := range strings.Fields(m[1]) {
			k, v, _ := strings.Cut(f, ":")
			r.header[k] = v
		}
		out = append(out, r)
	}
	return out
}

func newLoggedHarness(t *testing.T, cfg ...Config) (*harness, *testkit.Buffer) {
	buf := &testkit.Buffer{}
	c := Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, c)
	return h, buf
}

// listenerSpec returns an eventlistener "ev" running listenerScript.
func (h *harness) listenerSpec(out, mode string, bufferSize int, events ...string) Spec {
	s := h.spec("ev", "/bin/sh", "-c", listenerScript, "listener", out, mode)
	s.StartSecs = 0
	s.AutoRestart = RestartAlways
	s.Listener = &ListenerSpec{Events: events, BufferSize: bufferSize}
	return s
}

func (h *harness) waitEvents(path string, d time.Duration, cond func([]received) bool) []received {
	h.t.Helper()
	var got []received
	h.waitFor("events in "+path, d, func() bool {
		got = readEvents(path)
		return cond(got)
	})
	return got
}

func (h *harness) remote(data string) {
	h.e.Publish(Event{Type: EventRemoteComm, Data: []byte("type:test\n" + data)})
}

func TestListenerGetsProcessStateEvents(t *testing.T) {
	h := newHarness(t)
	out := h.file("events")
	worker := h.spec("worker", sh("exit 0")...)
	worker.StartSecs = 0
	worker.AutoRestart = RestartNever
	h.update(h.listenerSpec(out, "", 0, "PROCESS_STATE"), worker)
	h.waitState("worker", Exited, 10*time.Second)
	var pid int
	for _, ev := range h.stateEvents("worker") {
		if ev.To == Running {
			pid = ev.Pid
		}
	}
	want := []struct{ name, body string }{
		{"PROCESS_STATE_STARTING", "processname:worker groupname:worker from_state:STOPPED tries:0"},
		{"PROCESS_STATE_RUNNING", fmt.Sprintf("processname:worker groupname:worker from_state:STARTING pid:%d", pid)},
		{"PROCESS_STATE_EXITED", fmt.Sprintf("processname:worker groupname:worker from_state:RUNNING expected:1 pid:%d", pid)},
	}
	workerEvents := func(all []received) []received {
		var out []received
		for _, r := range all {
			if strings.HasPrefix(r.body, "processname:worker ") {
				out = append(out, r)
			}
		}
		return out
	}
	all := h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(workerEvents(r)) >= len(want) })
	got := workerEvents(all)
	if len(got) != len(want) {
		t.Fatalf("got %d worker events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r.header["eventname"] != w.name || r.body != w.body || r.answer != "OK" {
			t.Errorf("event %d: got %q / %q, want %s / %q", i, r.line, r.body, w.name, w.body)
		}
		if r.header["server"] != "supervisor" || r.header["pool"] != "ev" || r.header["len"] != strconv.Itoa(len(w.body)) {
			t.Errorf("event %d: bad header %q", i, r.line)
		}
	}
	// Serials count up from 0: globally, and per pool without gaps (one
	// pool here).
	if all[0].header["serial"] != "0" || all[0].header["poolserial"] != "0" {
		t.Errorf("first event %q, want serial 0 and poolserial 0", all[0].line)
	}
	for i := 1; i < len(all); i++ {
		s0, _ := strconv.Atoi(all[i-1].header["serial"])
		s1, _ := strconv.Atoi(all[i].header["serial"])
		p0, _ := strconv.Atoi(all[i-1].header["poolserial"])
		p1, _ := strconv.Atoi(all[i].header["poolserial"])
		if s1 <= s0 || p1 != p0+1 {
			t.Errorf("serials not increasing: %q then %q", all[i-1].line, all[i].line)
		}
	}
}

func TestListenerPayloads(t *testing.T) {
	at := time.Unix(1795466290, 0)
	for _, tc := range []struct {
		ev   Event
		name string
		body string
	}{
		{Event{Type: EventProcessState, Process: "quick", Group: "quick", From: Backoff, To: Starting, Tries: 1},
			"PROCESS_STATE_STARTING", "processname:quick groupname:quick from_state:BACKOFF tries:1"},
		{Event{Type: EventProcessState, Process: "quick", Group: "quick", From: Backoff, To: Fatal},
			"PROCESS_STATE_FATAL", "processname:quick groupname:quick from_state:BACKOFF"},
		{Event{Type: EventProcessState, Process: "a", Group: "g", From: Stopping, To: Stopped, Pid: 7},
			"PROCESS_STATE_STOPPED", "processname:a groupname:g from_state:STOPPING pid:7"},
		{Event{Type: EventProcessGroupAdded, Group: "talker"}, "PROCESS_GROUP_ADDED", "groupname:talker\n"},
		{Event{Type: EventSupervisorRunning}, "SUPERVISOR_STATE_CHANGE_RUNNING", ""},
		{Event{Type: EventProcessLogStdout, Process: "talker", Group: "talker", Pid: 15092, Data: []byte("hello-log\n")},
			"PROCESS_LOG_STDOUT", "processname:talker groupname:talker pid:15092 channel:stdout\nhello-log\n"},
		{Event{Type: EventProcessCommStdout, Process: "talker", Group: "talker", Pid: 15092, Data: []byte("comm-data")},
			"PROCESS_COMMUNICATION_STDOUT", "processname:talker groupname:talker pid:15092\ncomm-data"},
		{Event{Type: EventRemoteComm, Data: []byte("type:t\nx")}, "REMOTE_COMMUNICATION", "type:t\nx"},
		{Event{Type: EventTick5, Time: at}, "TICK_5", "when:1795466290"},
	} {
		if got := tc.ev.Name(); got != tc.name {
			t.Errorf("Name() = %q, want %q", got, tc.name)
		}
		if got := string(tc.ev.Payload()); got != tc.body {
			t.Errorf("%s payload = %q, want %q", tc.name, got, tc.body)
		}
	}
}

func TestListenerSubscriptions(t *testing.T) {
	for _, tc := range []struct {
		subs []string
		name string
		want bool
	}{
		{[]string{"PROCESS_STATE"}, "PROCESS_STATE_RUNNING", true},
		{[]string{"PROCESS_STATE_EXITED"}, "PROCESS_STATE_RUNNING", false},
		{[]string{"EVENT"}, "TICK_60", true},
		{[]string{"TICK"}, "TICK_5", true},
		{[]string{"TICK_60"}, "TICK_5", false},
		{[]string{"PROCESS_LOG"}, "PROCESS_LOG_STDERR", true},
		{[]string{"PROCESS_COMMUNICATION"}, "PROCESS_LOG_STDERR", false},
		{[]string{"SUPERVISOR_STATE_CHANGE"}, "SUPERVISOR_STATE_CHANGE_STOPPING", true},
		{[]string{"PROCESS_GROUP"}, "PROCESS_GROUP_REMOVED", true},
		{[]string{"REMOTE_COMMUNICATION"}, "REMOTE_COMMUNICATION", true},
	} {
		if got := subscribes(tc.subs, tc.name); got != tc.want {
			t.Errorf("subscribes(%v, %s) = %v", tc.subs, tc.name, got)
		}
	}
}

func TestListenerBufferOverflowDropsOldest(t *testing.T) {
	h, logs := newLoggedHarness(t)
	out := h.file("events")
	ls := h.listenerSpec(out, "", 2, "REMOTE_COMMUNICATION")
	ls.AutoStart = false
	h.update(ls)
	for i := 1; i <= 4; i++ {
		h.remote(strconv.Itoa(i))
	}
	if err := h.e.StartProcess(t.Context(), "ev", false); err != nil {
		t.Fatal(err)
	}
	got := h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(r) >= 2 })
	if len(got) != 2 || got[0].body != "type:test\n3" || got[1].body != "type:test\n4" {
		t.Fatalf("got %+v, want events 3 and 4", got)
	}
	// Serials count from 0, as supervisord's: event 3 is serial 2.
	if got[0].header["serial"] != "2" || got[0].header["poolserial"] != "2" {
		t.Errorf("first delivered header %q, want serial 2", got[0].line)
	}
	for _, n := range []string{"0", "1"} { // events 1 and 2
		if !strings.Contains(logs.String(), "pool ev event buffer overflowed, discarding event "+n) {
			t.Errorf("no overflow log for event %s in:\n%s", n, logs.String())
		}
	}
}

func TestListenerFailResends(t *testing.T) {
	h := newHarness(t)
	out := h.file("events")
	h.update(h.listenerSpec(out, "failonce", 0, "REMOTE_COMMUNICATION"))
	h.remote("again")
	got := h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(r) >= 2 })
	if got[0].answer != "FAIL" || got[1].answer != "OK" || got[0].line != got[1].line || got[1].body != "type:test\nagain" {
		t.Fatalf("want the same event FAILed then OKed, got %+v", got)
	}
}

func TestListenerKilledMidEventGetsItAgain(t *testing.T) {
	h := newHarness(t)
	out := h.file("events")
	h.update(h.listenerSpec(out, "hangonce", 0, "REMOTE_COMMUNICATION"))
	h.waitState("ev", Running, 10*time.Second)
	h.remote("precious")
	h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(r) >= 1 })
	h.waitFor("ev to be BUSY", 10*time.Second, func() bool {
		ls := h.e.Listeners()
		return len(ls) == 1 && ls[0].State == ListenerBusy
	})
	info, err := h.e.Info("ev")
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(info.Pid, syscall.SIGKILL)
	got := h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(r) >= 2 })
	if got[0].line != got[1].line || got[1].body != "type:test\nprecious" || got[1].answer != "OK" {
		t.Fatalf("want the event re-sent after the restart, got %+v", got)
	}
}

// TICK_5 comes at every multiple of 5 s of the clock, with that time.
func TestListenerTick5(t *testing.T) {
	h := newFakeHarness(t)
	out := h.file("events")
	h.update(h.listenerSpec(out, "", 0, "TICK_5"))
	h.waitState("ev", Running, 0)
	// The fake clock reads 03:04:05, so the next multiple of 5 s is 5 s
	// away; then one every 5 s.
	if got := h.clock.Pending(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Fatalf("timers armed %v, want the tick in 5s", got)
	}
	start := h.clock.Now().Unix()
	h.clock.Advance(5 * time.Second)
	h.clock.Advance(5 * time.Second)
	got := h.waitEvents(out, 0, func(r []received) bool { return len(r) >= 2 })
	for i, r := range got {
		when, err := strconv.ParseInt(strings.TrimPrefix(r.body, "when:"), 10, 64)
		if want := start + 5*int64(i+1); r.header["eventname"] != "TICK_5" || err != nil || when != want || !strings.HasPrefix(r.body, "when:") {
			t.Fatalf("tick %d: %q %q, want when:%d", i, r.line, r.body, want)
		}
	}
	h.e.mu.Lock()
	n := len(h.e.ticks)
	h.e.mu.Unlock()
	if n != 1 {
		t.Errorf("%d tick timers armed, want 1 (TICK_5 only)", n)
	}
}

func TestNoTickTimersWithoutTickListeners(t *testing.T) {
	h := newHarness(t)
	h.update(h.listenerSpec(h.file("events"), "", 0, "PROCESS_STATE"), h.spec("plain", "sleep", "300"))
	h.e.mu.Lock()
	n := len(h.e.ticks)
	h.e.mu.Unlock()
	if n != 0 {
		t.Errorf("%d tick timers armed without a TICK subscription", n)
	}
}

func TestListenerProtocolViolationIsUnknown(t *testing.T) {
	h, logs := newLoggedHarness(t)
	h.update(h.listenerSpec(h.file("events"), "garbage", 0, "EVENT"), h.spec("other", "sleep", "300"))
	h.waitFor("ev to be UNKNOWN", 10*time.Second, func() bool {
		ls := h.e.Listeners()
		return len(ls) == 1 && ls[0].State == ListenerUnknown
	})
	if !strings.Contains(logs.String(), "ev: has entered the UNKNOWN state") {
		t.Errorf("UNKNOWN not logged:\n%s", logs.String())
	}
	h.remote("x") // buffered for nobody; must not block or crash
	h.waitState("other", Running, 10*time.Second)
	if err := h.e.StopProcess(t.Context(), "other", false); err != nil {
		t.Fatal(err)
	}
	h.waitState("other", Stopped, 10*time.Second)
}

func TestSpecDiffNamesListenerOptions(t *testing.T) {
	base := NewSpec("ev", "cat")
	for _, tc := range []struct {
		a, b *ListenerSpec
		want []string
	}{
		{nil, nil, nil},
		{nil, &ListenerSpec{Events: []string{"EVENT"}, BufferSize: 10}, []string{"events", "buffer_size"}},
		{&ListenerSpec{Events: []string{"EVENT"}, BufferSize: 10}, &ListenerSpec{Events: []string{"TICK"}, BufferSize: 10}, []string{"events"}},
		{&ListenerSpec{Events: []string{"EVENT"}, BufferSize: 10}, &ListenerSpec{Events: []string{"EVENT"}, BufferSize: 3}, []string{"buffer_size"}},
	} {
		a, b := base, base
		a.Listener, b.Listener = tc.a, tc.b
		if got := specDiff(a, b); !slices.Equal(got, tc.want) {
			t.Errorf("specDiff(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if a.Equal(b) != (len(tc.want) == 0) {
			t.Errorf("Equal(%v, %v) = %v", tc.a, tc.b, a.Equal(b))
		}
	}
}

// TestListenerReloadChangesSubscription reloads a listener with other
// events: it restarts and its pool now receives the new type only.
func TestListenerReloadChangesSubscription(t *testing.T) {
	h := newHarness(t)
	out := h.file("events")
	h.update(h.listenerSpec(out, "", 0, "TICK_3600"))
	h.waitState("ev", Running, 10*time.Second)
	h.update(h.listenerSpec(out, "", 0, "REMOTE_COMMUNICATION"))
	h.waitSeq("ev", 10*time.Second, Stopping, Stopped, Starting, Running)
	h.remote("after")
	got := h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(r) >= 1 })
	if got[0].body != "type:test\nafter" {
		t.Errorf("got %+v", got)
	}
	h.e.mu.Lock()
	n := len(h.e.ticks)
	h.e.mu.Unlock()
	if n != 0 {
		t.Errorf("TICK_3600 timer still armed after the reload")
	}
}

// crashmailListener is superlance crashmail's loop, on supervisord's own
// childutils: it records each PROCESS_STATE_EXITED as crashmail reads it.
const crashmailListener = `
import sys
from supervisor import childutils
out = open(sys.argv[1], 'a')
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    if headers['eventname'] == 'PROCESS_STATE_EXITED':
        ph, _ = childutils.eventdata(payload + '\n')
        out.write('%s expected=%s pid=%s\n' % (ph['processname'], ph['expected'], ph['pid']))
        out.flush()
    childutils.listener.ok(sys.stdout)
`

// TestListenerSupervisorChildutils runs a listener written against
// supervisord's own Python helpers (what superlance uses), when the
// machine has them.
func TestListenerSupervisorChildutils(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import supervisor.childutils").Run(); err != nil {
		t.Skip("supervisor's childutils not installed:", err)
	}
	h := newHarness(t)
	out := h.file("crashes")
	ls := h.spec("crashmail", python, "-c", crashmailListener, out)
	ls.StartSecs = 0
	ls.Listener = &ListenerSpec{Events: []string{"PROCESS_STATE"}}
	crasher := h.spec("crasher", sh("exit 3")...)
	crasher.StartSecs, crasher.AutoRestart = 0, RestartNever
	h.update(ls, crasher)
	h.waitState("crasher", Exited, 10*time.Second)
	var pid int
	for _, ev := range h.stateEvents("crasher") {
		if ev.To == Exited {
			pid = ev.Pid
		}
	}
	h.waitFile(out, fmt.Sprintf("crasher expected=0 pid=%d\n", pid), 10*time.Second)
	for _, l := range h.e.Listeners() {
		if l.State == ListenerUnknown {
			t.Errorf("listener %s broke the protocol", l.Name)
		}
	}
}

// TestListenerGroupEventsInStartOrder checks PROCESS_GROUP_ADDED goes out
// in start order, the listener's own pool first (priority -1), as
// supervisord adds its groups.
func TestListenerGroupEventsInStartOrder(t *testing.T) {
	h := newHarness(t)
	out := h.file("events")
	ls := h.listenerSpec(out, "", 0, "PROCESS_GROUP")
	ls.GroupPriority = -1
	var specs []Spec
	for _, n := range []string{"zeta", "alpha", "mid"} {
		s := h.spec(n, "sleep", "300")
		s.AutoStart = false
		specs = append(specs, s)
	}
	specs[2].GroupPriority = 5
	h.update(append(specs, ls)...)
	got := h.waitEvents(out, 10*time.Second, func(r []received) bool { return len(r) >= 4 })
	var order []string
	for _, r := range got {
		order = append(order, strings.TrimSpace(r.body))
	}
	want := []string{"groupname:ev", "groupname:mid", "groupname:alpha", "groupname:zeta"}
	if !slices.Equal(order, want) {
		t.Errorf("PROCESS_GROUP_ADDED order %v, want %v", order, want)
	}
}

// TestListenerProtocolParsing feeds listener output in chunks to a pool
// and checks the listener states supervisord's dispatcher would reach.
func TestListenerProtocolParsing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunks   []string
		want     ListenerState
		buffered int // events left in the pool (one is queued at the start)
	}{
		{"ready in pieces", []string{"RE", "AD", "Y\n"}, ListenerBusy, 0},
		{"short garbage waits", []string{"hi\n"}, ListenerAcknowledged, 1},
		{"garbage", []string{"HELLO\n"}, ListenerUnknown, 1},
		{"ready takes the queued event", []string{"READY\n"}, ListenerBusy, 0},
		{"ok in pieces", []string{"READY\n", "RESU", "LT 2\nO", "K"}, ListenerAcknowledged, 0},
		{"ok then ready", []string{"READY\n", "RESULT 2\nOKREADY\n"}, ListenerReady, 0},
		{"fail rebuffers", []string{"READY\n", "RESULT 4\nFAIL"}, ListenerAcknowledged, 1},
		{"fail then ready resends", []string{"READY\n", "RESULT 4\nFAILREADY\n"}, ListenerBusy, 0},
		{"bad result line", []string{"READY\n", "RESULT two\n"}, ListenerUnknown, 1},
		{"lax result prefix", []string{"READY\n", "RESULTS2\nOK"}, ListenerAcknowledged, 0},
		{"endless result line", []string{"READY\n", strings.Repeat("x", 5000)}, ListenerUnknown, 1},
		{"huge result", []string{"READY\n", "RESULT 2000000\n"}, ListenerUnknown, 1},
		{"spurious data when ready", []string{"READY\nRESULT 2\nOKREADY\nREADY\n"}, ListenerUnknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{log: slog.New(slog.DiscardHandler)}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			go func() { // the listener's stdin: drained, never blocks
				buf := make([]byte, 4096)
				for {
					if _, err := r.Read(buf); err != nil {
						return
					}
				}
			}()
			pl := &pool{name: "ev", e: e, bufferSize: 10}
			pl.acceptLocked(&poolEvent{name: "TICK_5", payload: []byte("when:5")}, false)
			l := pl.attach("ev", w)
			pl.setRunning(l, true)
			for _, c := range tc.chunks {
				pl.feed(l, []byte(c))
			}
			pl.mu.Lock()
			defer pl.mu.Unlock()
			if l.state != tc.want || len(pl.buffer) != tc.buffered {
				t.Errorf("state %s with %d buffered, want %s with %d", l.state, len(pl.buffer), tc.want, tc.buffered)
			}
		})
	}
}

// TestListenerThatNeverReadsBlocksNothing subscribes a listener that says
// READY and then never reads its stdin to the output of a chatty program:
// the event writes park, but the chatty program's log is complete and the
// engine keeps stopping and starting processes.
func TestListenerThatNeverReadsBlocksNothing(t *testing.T) {
	h := newHarness(t)
	ls := h.spec("deaf", sh("printf 'READY\\n'; exec sleep 300")...)
	ls.StartSecs = 0
	ls.Listener = &ListenerSpec{Events: []string{"PROCESS_LOG"}, BufferSize: 3}
	chatty := h.spec("chatty", sh("head -c 2000000 /dev/zero | tr '\\0' x; echo; echo done")...)
	chatty.StartSecs, chatty.AutoRestart = 0, RestartNever
	chatty.Stdout.Path = h.file("chatty.log")
	chatty.Stdout.EventsEnabled = true
	other := h.spec("other", "sleep", "300")
	other.StartSecs = 0
	h.update(ls, other)
	h.waitState("deaf", Running, 10*time.Second)
	h.waitFor("deaf to be READY", 10*time.Second, func() bool {
		l := h.e.Listeners()
		return len(l) == 1 && l[0].State == ListenerReady
	})
	h.update(ls, other, chatty)
	h.waitState("chatty", Exited, 20*time.Second)
	h.waitFile(chatty.Stdout.Path, "done\n", 20*time.Second)
	if st, err := os.Stat(chatty.Stdout.Path); err != nil || st.Size() != int64(2000000+len("\ndone\n")) {
		t.Errorf("chatty log: %v, size %v", err, st)
	}
	if err := h.e.StopProcess(t.Context(), "other", true); err != nil {
		t.Fatal(err)
	}
	if err := h.e.StartProcess(t.Context(), "other", true); err != nil {
		t.Fatal(err)
	}
	if l := h.e.Listeners(); len(l) != 1 || l[0].State != ListenerBusy || l[0].Buffered != 3 {
		t.Errorf("listeners %+v, want deaf BUSY with a full buffer of 3", l)
	}
}
