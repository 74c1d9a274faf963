package supervisor

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The read ends of a child's output pipes stay out of Go's netpoller
// (every write to a pipe there wakes a daemon thread), yet a reader
// goroutine can have one back in, and data flows either way.
func TestPipesOutsideNetpoller(t *testing.T) {
	pp, err := newPipes(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pp.closeChildEnds(); pp.closeParentEnds() })
	if polled(pp.stdoutR) || polled(pp.stderrR) {
		t.Fatal("a new output pipe is in the netpoller")
	}
	if !polled(pp.stdinW) {
		t.Fatal("stdin lost its netpoller registration (deadlines)")
	}
	in, err := repoll(pp.stdoutR, true)
	if err != nil {
		t.Fatal(err)
	}
	pp.stdoutR = in
	if !polled(in) {
		t.Fatal("repoll(true) left the pipe out of the netpoller")
	}
	out, err := repoll(in, false)
	if err != nil {
		t.Fatal(err)
	}
	pp.stdoutR = out
	if polled(out) {
		t.Fatal("repoll(false) left the pipe in the netpoller")
	}
	if _, err := unix.Write(pp.stdoutW, []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Read(fileFd(out), buf); err != nil || string(buf[:n]) != "x\n" {
		t.Fatalf("read %q, %v; want \"x\\n\"", buf[:n], err)
	}
	if _, err := unix.Read(fileFd(out), buf); err != unix.EAGAIN {
		t.Fatalf("empty pipe read: %v, want EAGAIN (non-blocking)", err)
	}
}

// A pipe the pump has read is watched again (it is disarmed while being
// read, see pipeEvents): each of a quiet child's lines arrives, after a
// flood as before it, and every byte arrives once, in order.
func TestPumpRearmsQuietAndFlooding(t *testing.T) {
	p, err := newPump()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	r, w, err := pipePair(true, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w >= 0 {
			unix.Close(w)
		}
	})
	var mu sync.Mutex
	var got bytes.Buffer
	eof := make(chan struct{})
	sink := func(b []byte) { mu.Lock(); got.Write(b); mu.Unlock() }
	if err := p.add(r, sink, func() { close(eof) }, nil); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	waitFor := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			ok := bytes.Equal(got.Bytes(), want.Bytes())
			n := got.Len()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pump passed on %d of %d bytes", n, want.Len())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	line := func(i int) {
		t.Helper()
		s := fmt.Sprintf("quiet line %d\n", i)
		want.WriteString(s)
		if _, err := unix.Write(w, []byte(s)); err != nil {
			t.Fatal(err)
		}
		waitFor()
	}
	for i := range 5 {
		line(i)
	}
	flood := bytes.Repeat([]byte("flood 0123456789abcdefghijklmnopqrstuvwxyz\n"), 200000) // 8.6 MB
	want.Write(flood)
	for b := flood; len(b) > 0; {
		n, err := unix.Write(w, b) // blocks while the pipe is full
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	waitFor()
	for i := 5; i < 10; i++ {
		line(i)
	}
	unix.Close(w)
	w = -1
	select {
	case <-eof:
	case <-time.After(30 * time.Second):
		t.Fatal("no EOF")
	}
}

// A child whose output the pump reads has its pipes out of the
// netpoller; one read by a goroutine of its own (a log_prefix frames its
// lines) has them in, since that reader parks on the pipe and takes
// deadlines. Both logs get the child's line.
func TestCapturePipesPolledOnlyForGoroutines(t *testing.T) {
	h := newHarness(t)
	plain := h.spec("plain", sh(`echo plain; exec sleep 60`)...)
	plain.Stdout.Path = h.file("plain.log")
	framed := h.spec("framed", sh(`echo framed; exec sleep 60`)...)
	framed.Stdout.Path = h.file("framed.log")
	framed.LogPrefix = "[f] "
	h.update(plain, framed)
	h.waitFile(h.file("plain.log"), "plain\n", 10*time.Second)
	h.waitFile(h.file("framed.log"), "[f] framed\n", 10*time.Second)
	for name, want := range map[string]bool{"plain": false, "framed": true} {
		h.e.mu.Lock()
		p := h.e.procs[name]
		out, errR := p.outR, p.errR
		h.e.mu.Unlock()
		if out == nil || errR == nil {
			t.Fatalf("%s: no output pipes", name)
		}
		if polled(out) != want || polled(errR) != want {
			t.Errorf("%s: stdout in the netpoller %v, stderr %v; want %v", name, polled(out), polled(errR), want)
		}
	}
}
