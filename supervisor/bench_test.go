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

// benchSpecs5000 returns 5000 specs of one group, as numprocs = 5000 gives,
// none started (the update's plan and diff are what is measured).
func benchSpecs5000(group string) []Spec {
	specs := make([]Spec, 0, 5000)
	for i := range 5000 {
		s := NewSpec(fmt.Sprintf("w_%d", i), "sleep", "1000")
		s.Group, s.Program, s.Num, s.NumProcs = group, group, i, 5000
		s.AutoStart = false
		s.Stdout.Path, s.Stderr.Path = LogNone, LogNone
		specs = append(specs, s)
	}
	return specs
}

// BenchmarkUpdateUnchanged5000 measures an update that changes nothing on
// 5000 processes: one group of 5000 (numprocs) and 5000 groups of one.
func BenchmarkUpdateUnchanged5000(b *testing.B) {
	oneGroup := benchSpecs5000("w")
	manyGroups := benchSpecs5000("w")
	for i := range manyGroups {
		manyGroups[i].Group = manyGroups[i].Name
		manyGroups[i].Program = manyGroups[i].Name
	}
	for name, specs := range map[string][]Spec{"numprocs": oneGroup, "literal": manyGroups} {
		b.Run(name, func(b *testing.B) {
			e := New(Config{ChildLogDir: b.TempDir()})
			b.Cleanup(func() { e.Shutdown(context.Background()) })
			if _, err := e.Update(context.Background(), specs); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.Plan(specs); err != nil {
					b.Fatal(err)
				}
				if _, err := e.Update(context.Background(), specs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
