package repl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
)

// serveEngine runs an engine with specs behind a control server on a unix
// socket and returns the socket URL.
func serveEngine(tb testing.TB, opts control.Options, specs ...supervisor.Spec) (*enginekit.Engine, string) {
	tb.Helper()
	eng := enginekit.Run(tb, supervisor.Config{}, specs...)
	opts.Engine = eng.Engine
	return eng, "unix://" + testkit.ServeUnix(tb, control.New(opts))
}

func runCtl(t *testing.T, c *client.Client, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	rc := RunCommand(context.Background(), c, args, &out, &out)
	return out.String(), rc
}

func TestRun_StatusFormat(t *testing.T) {
	long := enginekit.Sleeper("a_really_long_program_name_exceeding_thirty")
	long.AutoStart = false
	_, url := serveEngine(t, control.Options{}, enginekit.Sleeper("app"), long)
	c, err := client.New(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	out, rc := runCtl(t, c, "status")
	want := regexp.MustCompile(`^a_really_long_program_name_exceeding_thirty   STOPPED   Not started\n` +
		`app {43}RUNNING   pid \d+, uptime 0:00:0\d\n$`)
	if !want.MatchString(out) || rc != 3 {
		t.Fatalf("status rc %d:\n%s", rc, out)
	}
	out, rc = runCtl(t, c, "status", "app")
	if !regexp.MustCompile(`^app {30}RUNNING   pid \d+, uptime `).MatchString(out) || rc != 0 {
		t.Fatalf("status app rc %d:\n%q", rc, out)
	}
}

func TestRun_ServerDown(t *testing.T) {
	dir := t.TempDir()
	missing := "unix://" + filepath.Join(dir, "none.sock")
	refused := filepath.Join(dir, "refused.sock")
	ln, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays; nothing listens: ECONNREFUSED
	tests := []struct {
		url    string
		args   []string
		want   string
		wantRC int
	}{
		{missing, []string{"status"}, missing + " no such file\n", 4},
		{missing, []string{"start", "x"}, missing + " no such file\n", 7},
		{missing, []string{"shutdown"}, "ERROR: " + missing + " no such file (already shut down?)\n", 1},
		{"unix://" + refused, []string{"status"}, "unix://" + refused + " refused connection\n", 4},
		{"unix://" + refused, []string{"stop", "x"}, "unix://" + refused + " refused connection\n", 4},
		{missing, []string{"bogus", "arg"}, "*** Unknown syntax: bogus arg\n", 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c, err := client.New(tt.url, "", "")
			if err != nil {
				t.Fatal(err)
			}
			out, rc := runCtl(t, c, tt.args...)
			if out != tt.want || rc != tt.wantRC {
				t.Fatalf("got rc %d %q, want rc %d %q", rc, out, tt.wantRC, tt.want)
			}
		})
	}
}

func TestRun_Auth(t *testing.T) {
	_, url := serveEngine(t, control.Options{Username: "user", Password: "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef", Version: "1.2.0"})
	for _, tt := range []struct {
		user, pass string
		want       string
		rc         int
	}{
		{"", "", "Server requires authentication\n", 1},
		{"user", "wrong", "Server requires authentication\n", 1},
		{"user", "123", "1.2.0\n", 0},
	} {
		c, _ := client.New(url, tt.user, tt.pass)
		if out, rc := runCtl(t, c, "version"); out != tt.want || rc != tt.rc {
			t.Errorf("%s/%s: rc %d %q, want rc %d %q", tt.user, tt.pass, rc, out, tt.rc, tt.want)
		}
	}
}

// BenchmarkStatus1000 measures `tend status` round trips (request, JSON,
// formatting) against an in-process daemon running 1000 processes.
func BenchmarkStatus1000(b *testing.B) {
	if testing.Short() {
		b.Skip("spawns 1000 processes")
	}
	specs := make([]supervisor.Spec, 1000)
	for i := range specs {
		specs[i] = enginekit.Sleeper(fmt.Sprintf("prog_%04d", i))
		specs[i].Stdout.Path, specs[i].Stderr.Path = supervisor.LogNone, supervisor.LogNone
	}
	_, url := serveEngine(b, control.Options{}, specs...)
	c, err := client.New(url, "", "")
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if rc := RunCommand(context.Background(), c, []string{"status"}, &out, os.Stderr); rc != 0 || strings.Count(out.String(), "RUNNING") != 1000 {
		b.Fatalf("status rc %d, %d RUNNING lines", rc, strings.Count(out.String(), "RUNNING"))
	}
	b.ResetTimer()
	for b.Loop() {
		if rc := RunCommand(context.Background(), c, []string{"status"}, io.Discard, os.Stderr); rc != 0 {
			b.Fatalf("status rc %d", rc)
		}
	}
}
