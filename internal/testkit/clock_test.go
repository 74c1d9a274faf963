package testkit

import (
	"slices"
	"testing"
	"time"
)

func TestFakeClockRunsTimersWhenDueInOrder(t *testing.T) {
	c := NewFakeClock()
	t0 := c.Now()
	var ran []string
	at := func(name string) func() {
		return func() { ran = append(ran, name+"@"+c.Now().Sub(t0).String()) }
	}
	c.AfterFunc(2*time.Second, at("b"))
	c.AfterFunc(time.Second, at("a"))
	stop := c.AfterFunc(1500*time.Millisecond, at("stopped"))
	c.AfterFunc(2*time.Second, func() {
		at("c")()
		// A timer armed by a timer runs in the same Advance when due.
		c.AfterFunc(500*time.Millisecond, at("d"))
	})
	if !stop() || stop() {
		t.Fatalf("stop should report true once, then false")
	}
	if got, want := c.Pending(), []time.Duration{time.Second, 2 * time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
	c.Advance(time.Second - time.Nanosecond)
	if len(ran) != 0 {
		t.Fatalf("ran %v before anything was due", ran)
	}
	c.Advance(time.Nanosecond)
	if want := []string{"a@1s"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
	c.Advance(2 * time.Second)
	if want := []string{"a@1s", "b@2s", "c@2s", "d@2.5s"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
	if got := c.Now().Sub(t0); got != 3*time.Second {
		t.Fatalf("now is t0+%s, want t0+3s", got)
	}
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("pending %v after all ran", p)
	}
}

func TestFakeClockZeroDelayRunsAtOnce(t *testing.T) {
	c := NewFakeClock()
	done := make(chan struct{})
	c.AfterFunc(0, func() { close(done) })
	select {
	case <-done:
	case <-time.After(DefaultWait):
		t.Fatal("a zero-delay timer did not run without Advance")
	}
}

func TestFakeClockWaitPendingAndRunUntil(t *testing.T) {
	c := NewFakeClock()
	fired := make(chan struct{})
	go c.AfterFunc(time.Hour, func() { close(fired) })
	c.WaitPending(t, 1)
	done := make(chan struct{})
	go func() { <-fired; close(done) }()
	c.RunUntil(done, time.Millisecond)
	if p := c.Pending(); len(p) != 0 {
		t.Fatalf("pending %v after RunUntil", p)
	}
}
