package supervisor

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSpawn measures starting N sleep processes until all exist, to
// compare with BenchmarkBareForkExec (the machine's floor).
func BenchmarkSpawn200(b *testing.B) {
	for b.Loop() {
		e := New(Config{ChildLogDir: b.TempDir()})
		var specs []Spec
		for i := range 200 {
			s := NewSpec(fmt.Sprintf("s%03d", i), "sleep", "1000")
			s.StartSecs = 0
			s.Stdout.Path, s.Stderr.Path = LogNone, LogNone
			specs = append(specs, s)
		}
		if _, err := e.Update(context.Background(), specs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		e.Shutdown(ctx)
		cancel()
		b.StartTimer()
	}
}

// BenchmarkBareForkExec200 is a bare fork/exec loop of 200 sleeps.
func BenchmarkBareForkExec200(b *testing.B) {
	for b.Loop() {
		cmds := make([]*exec.Cmd, 0, 200)
		for range 200 {
			c := exec.Command("sleep", "1000")
			if err := c.Start(); err != nil {
				b.Fatal(err)
			}
			cmds = append(cmds, c)
		}
		b.StopTimer()
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		b.StartTimer()
	}
}

// BenchmarkRespawn measures kill -9 → replacement child running.
func BenchmarkRespawn(b *testing.B) {
	e := New(Config{ChildLogDir: b.TempDir()})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	}()
	s := NewSpec("victim", "sleep", "1000")
	s.StartSecs = 0
	s.AutoRestart = RestartAlways
	if _, err := e.Update(context.Background(), []Spec{s}); err != nil {
		b.Fatal(err)
	}
	waitPid := func(not int) int {
		for {
			if i, _ := e.Info("victim"); i.Pid != 0 && i.Pid != not && i.State == Running {
				return i.Pid
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	pid := waitPid(0)
	for b.Loop() {
		syscall.Kill(pid, syscall.SIGKILL)
		pid = waitPid(pid)
	}
}
