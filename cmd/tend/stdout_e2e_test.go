package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
)

// TestPrefixedStdout: programs flood tend's own stdout (a pipe read by the
// test, slowly at times) with numbered lines of random length, some longer
// than a piece: every line arrives exactly once, whole, prefixed, in each
// program's order, and tend answers status meanwhile. Nothing is dropped:
// when the test stops reading, the programs wait.
func TestPrefixedStdout(t *testing.T) {
	const programs, lines = 50, 3000
	dir := t.TempDir()
	var body strings.Builder
	for i := range programs {
		// Line i of program P: "P i n xxx…" with n x's; every 500th is
		// 20 000 bytes, longer than a piece. Each line is flushed at once:
		// a line left unfinished for a second would rightly be written
		// in two, and a loaded machine can pause awk that long.
		awk := fmt.Sprintf(`BEGIN{srand(%d); x="x"; while(length(x)<20000) x=x x; for(i=0;i<%d;i++){n=int(rand()*400); if(i-int(i/500)*500==499)n=20000; print "p%d", i, n, substr(x,1,n); fflush()}}`, i+1, lines, i)
		fmt.Fprintf(&body, "program \"p%d\" { command = { \"awk\", %q }, startsecs = 0, autorestart = false,\n"+
			"  stdout_logfile = \"/dev/stdout\", stdout_logfile_maxbytes = \"1KB\", log_prefix = \"%%(program_name)s | \" }\n", i, awk)
	}
	config := filepath.Join(dir, "tend.lua")
	if err := os.WriteFile(config, []byte(configText(dir, "exit_when_done = true", body.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tendBin, "daemon", "-c", config)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logBuf := new(testkit.Buffer)
	cmd.Stderr = logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Meanwhile, time `tend status` every 100 ms until the flood ends.
	done := make(chan struct{})
	var worst time.Duration
	var asked int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			start := time.Now()
			if _, rc := runTend(t, "-c", config, "status"); rc == 0 || rc == 3 {
				asked++
				worst = max(worst, time.Since(start))
			}
		}
	})

	next := make([]int, programs)
	r := bufio.NewReaderSize(stdout, 64<<10)
	var pending = map[int]string{} // the pieces so far of a split line
	read := 0
	for {
		ln, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read += len(ln)
		if read > 1<<20 { // stall now and then: the programs must wait, not lose lines
			read = 0
			time.Sleep(200 * time.Millisecond)
		}
		name, rest, ok := strings.Cut(strings.TrimSuffix(ln, "\n"), " | ")
		num, err := strconv.Atoi(strings.TrimPrefix(name, "p"))
		if !ok || err != nil || num < 0 || num >= programs {
			t.Fatalf("line without a program prefix: %.100q", ln)
		}
		if piece, ok := strings.CutSuffix(rest, " [tend: line continues]"); ok {
			pending[num] += piece
			continue
		}
		rest = pending[num] + rest
		delete(pending, num)
		f := strings.SplitN(rest, " ", 4)
		if len(f) < 3 || f[0] != name {
			t.Fatalf("mangled line: %.100q", rest)
		}
		seq, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		payload := ""
		if len(f) == 4 {
			payload = f[3]
		}
		if seq != next[num] || len(payload) != n || strings.Trim(payload, "x") != "" {
			t.Fatalf("%s: line %d (want %d) with %d bytes (want %d)", name, seq, next[num], len(payload), n)
		}
		next[num]++
	}
	close(done)
	wg.Wait()
	cmd.Wait()
	for i, n := range next {
		if n != lines {
			t.Errorf("p%d: %d lines, want %d", i, n, lines)
		}
	}
	if rc := cmd.ProcessState.ExitCode(); rc != 0 {
		t.Errorf("tend exited %d:\n%s", rc, logBuf.String())
	}
	t.Logf("%d programs x %d lines intact; status answered %d times, slowest %v (the tend CLI process included)", programs, lines, asked, worst)
}
