package supervisor

import (
	"strings"
	"testing"
	"time"
)

func TestCommScannerAcrossChunks(t *testing.T) {
	in := "before <!--XSUPERVISOR:BEGIN-->payload one<!--XSUPERVISOR:END--> middle <!--XSUPERVISOR:BEGIN-->two<!--XSUPERVISOR:END-->after\n"
	for _, size := range []int{1, 3, 7, 24, len(in)} {
		c := &commScanner{max: 1 << 20}
		var logged strings.Builder
		var payloads []string
		for i := 0; i < len(in); i += size {
			l, p := c.feed([]byte(in[i:min(i+size, len(in))]))
			logged.Write(l)
			for _, x := range p {
				payloads = append(payloads, string(x))
			}
		}
		l, _ := c.feed(nil)
		logged.Write(l)
		if got, want := logged.String()+string(c.held), "before  middle after\n"; got != want {
			t.Errorf("chunk %d: logged %q, want %q", size, got, want)
		}
		if strings.Join(payloads, "|") != "payload one|two" {
			t.Errorf("chunk %d: payloads %q", size, payloads)
		}
	}
}

func TestCaptureModePublishesCommunication(t *testing.T) {
	h := newHarness(t)
	s := h.spec("talker", sh(`printf 'hello-log\n<!--XSUPERVISOR:BEGIN-->comm-data<!--XSUPERVISOR:END-->\n'; exec sleep 1000`)...)
	s.StartSecs = 0
	s.Stdout.Path = h.file("talker.log")
	s.Stdout.CaptureMaxBytes = 1024
	s.Stdout.EventsEnabled = true
	h.update(s)
	h.waitFor("PROCESS_COMMUNICATION_STDOUT", 10*time.Second, func() bool {
		for _, ev := range h.all() {
			if ev.Type == EventProcessCommStdout && string(ev.Data) == "comm-data" && ev.Process == "talker" {
				return true
			}
		}
		return false
	})
	// The sink writes the log file and then publishes PROCESS_LOG_STDOUT,
	// and the harness records events on its own goroutine: the event can
	// trail both the COMMUNICATION event and the file, so wait for it.
	h.waitFor("a PROCESS_LOG_STDOUT event with hello-log", 10*time.Second, func() bool {
		for _, ev := range h.all() {
			if ev.Type == EventProcessLogStdout && strings.Contains(string(ev.Data), "hello-log") {
				return true
			}
		}
		return false
	})
	got := h.waitFile(h.file("talker.log"), "hello-log", 10*time.Second)
	if strings.Contains(got, "comm-data") {
		t.Errorf("captured text also logged: %q", got)
	}
	for _, ev := range h.all() {
		if ev.Type == EventProcessLogStdout && strings.Contains(string(ev.Data), "comm-data") {
			t.Errorf("captured text also sent as PROCESS_LOG_STDOUT: %q", ev.Data)
		}
	}
}
