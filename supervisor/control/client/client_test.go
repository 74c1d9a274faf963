package client

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// fakeDaemon answers Update as a daemon whose config has the groups in
// known, and records each request. Only the methods the tests call are
// implemented; the embedded interface is nil.
type fakeDaemon struct {
	control.Daemon
	known    []string
	failNext error // returned by the next Update that names only known groups

	mu    sync.Mutex
	calls [][]string
}

func (f *fakeDaemon) Update(_ context.Context, groups []string) ([]supervisor.Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, slices.Clone(groups))
	for _, g := range groups {
		if !slices.Contains(f.known, g) {
			return nil, &supervisor.Error{Fault: supervisor.FaultBadName, Detail: g}
		}
	}
	if err := f.failNext; err != nil {
		f.failNext = nil
		return nil, err
	}
	var out []supervisor.Change
	for _, g := range groups {
		out = append(out, supervisor.Change{Group: g, Kind: "changed"})
	}
	return out, nil
}

func (f *fakeDaemon) Eval(_ context.Context, chunk string) (string, error) {
	if chunk == "error()" {
		return "partial\n", errors.New("eval:1: boom")
	}
	return "ran " + chunk, nil
}

// serve runs an engine with specs and a control server on a unix socket,
// and returns a client for it.
func serve(t *testing.T, d control.Daemon, specs ...supervisor.Spec) (*Client, *supervisor.Engine) {
	t.Helper()
	dir := t.TempDir()
	eng := supervisor.New(supervisor.Config{ChildLogDir: dir})
	t.Cleanup(func() { eng.Shutdown(context.Background()) })
	if _, err := eng.Update(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	sock := testkit.ServeUnix(t, control.New(control.Options{Engine: eng, Daemon: d}))
	c, err := New("unix://"+sock, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c, eng
}

// TestBodilessPostsAreJSON: reread, reload and shutdown carry no body, yet
// the daemon refuses any POST to /v1/ that is not application/json (a page
// on another site could send it otherwise), so the client labels them too.
// With no daemon attached, a request the door lets through ends in "no
// daemon attached".
func TestBodilessPostsAreJSON(t *testing.T) {
	c, _ := serve(t, nil)
	ctx := context.Background()
	_, err := c.Reread(ctx)
	for name, err := range map[string]error{"reread": err, "reload": c.Reload(ctx), "shutdown": c.Shutdown(ctx)} {
		if err == nil || !strings.Contains(err.Error(), "no daemon attached") {
			t.Errorf("%s: %v, want the daemon's own answer (no daemon attached)", name, err)
		}
	}
}

// idle returns a spec of group that is not started by itself.
func idle(group, name string) supervisor.Spec {
	s := supervisor.NewSpec(name, "sleep", "100")
	s.Group, s.AutoStart = group, false
	return s
}

func namespecs(infos []control.ProcessInfo) []string {
	out := []string{}
	for _, i := range infos {
		out = append(out, supervisor.Namespec(i.Group, i.Name))
	}
	return out
}

func TestStatusSelectsAsSupervisorctl(t *testing.T) {
	c, _ := serve(t, nil, idle("a", "a"), idle("grp", "x"), idle("grp", "y"))
	all := []string{"a", "grp:x", "grp:y"}
	tests := []struct {
		names   []string
		want    []string
		unknown []string
	}{
		{nil, all, nil},
		{[]string{"all"}, all, nil},
		{[]string{"grp:x", "all"}, all, nil},
		{[]string{"a"}, []string{"a"}, nil},
		{[]string{"grp:*"}, []string{"grp:x", "grp:y"}, nil},
		{[]string{"grp:"}, []string{"grp:x", "grp:y"}, nil},
		{[]string{"grp:y", "a"}, []string{"grp:y", "a"}, nil},
		{[]string{"x"}, []string{}, []string{"x"}}, // x is a process of grp, not a group
		{[]string{"nosuch", "grp:x", "nogroup:*", "grp:z"}, []string{"grp:x"}, []string{"nosuch", "nogroup:*", "grp:z"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, " "), func(t *testing.T) {
			infos, err := c.Status(context.Background(), tt.names...)
			var unknown *UnknownNamesError
			if errors.As(err, &unknown) {
				if !slices.Equal(unknown.Names, tt.unknown) || unknown.Err != nil {
					t.Errorf("unknown = %q (%v), want %q", unknown.Names, unknown.Err, tt.unknown)
				}
			} else if err != nil || tt.unknown != nil {
				t.Errorf("err = %v, want unknown %q", err, tt.unknown)
			}
			if got := namespecs(infos); !slices.Equal(got, tt.want) {
				t.Errorf("status = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUpdateDropsUnknownGroups(t *testing.T) {
	shutting := &supervisor.Error{Fault: supervisor.FaultShutdownState}
	tests := []struct {
		name     string
		groups   []string
		failNext error
		calls    [][]string
		changed  []string
		unknown  []string
		fault    supervisor.Fault // of the error after the unknown names
	}{
		{"all groups", nil, nil, [][]string{nil}, nil, nil, 0},
		{"all wins", []string{"g1", "all"}, nil, [][]string{nil}, nil, nil, 0},
		{"known", []string{"g1", "g2"}, nil, [][]string{{"g1", "g2"}}, []string{"g1", "g2"}, nil, 0},
		{"one unknown", []string{"g1", "bad", "g2"}, nil,
			[][]string{{"g1", "bad", "g2"}, {"g1", "g2"}}, []string{"g1", "g2"}, []string{"bad"}, 0},
		{"only unknown", []string{"bad", "worse"}, nil,
			[][]string{{"bad", "worse"}, {"worse"}}, nil, []string{"bad", "worse"}, 0},
		{"failure after an unknown", []string{"bad", "g1"}, shutting,
			[][]string{{"bad", "g1"}, {"g1"}}, nil, []string{"bad"}, supervisor.FaultShutdownState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDaemon{known: []string{"g1", "g2"}, failNext: tt.failNext}
			c, _ := serve(t, d)
			changes, err := c.Update(context.Background(), tt.groups...)
			var unknown *UnknownNamesError
			if errors.As(err, &unknown) != (tt.unknown != nil) || unknown != nil && !slices.Equal(unknown.Names, tt.unknown) {
				t.Errorf("err = %v, want unknown %q", err, tt.unknown)
			}
			var ae *control.APIError
			if errors.As(err, &ae) != (tt.fault != 0) || ae != nil && ae.Fault() != tt.fault {
				t.Errorf("err = %v, want fault %v", err, tt.fault)
			}
			if err != nil && unknown == nil && ae == nil {
				t.Errorf("unexpected error %v", err)
			}
			var changed []string
			for _, ch := range changes {
				changed = append(changed, ch.Group)
			}
			if !slices.Equal(changed, tt.changed) {
				t.Errorf("changed %q, want %q", changed, tt.changed)
			}
			if !slices.EqualFunc(d.calls, tt.calls, slices.Equal) {
				t.Errorf("daemon saw %q, want %q", d.calls, tt.calls)
			}
		})
	}
}

// TestProcessControl drives one process through the name methods and
// checks what each returns against the engine's state.
func TestProcessControl(t *testing.T) {
	c, eng := serve(t, nil, idle("web", "w0"), idle("web", "w1"))
	ctx := context.Background()
	rs, err := c.Start(ctx, "web:w0")
	if err != nil || len(rs) != 1 || rs[0].Error != nil || rs[0].Name != "web:w0" {
		t.Fatalf("Start = %+v, %v", rs, err)
	}
	if i, _ := eng.Info("web:w0"); i.State != supervisor.Running {
		t.Fatalf("web:w0 is %v after Start", i.State)
	}
	daemon, rs, err := c.Pid(ctx, "web:w0", "web:w1", "nosuch")
	if err != nil || daemon == 0 || len(rs) != 3 {
		t.Fatalf("Pid = %d, %+v, %v", daemon, rs, err)
	}
	if i, _ := eng.Info("web:w0"); rs[0].Results[0].Pid != i.Pid || rs[1].Results[0].Pid != 0 {
		t.Errorf("Pid results %+v, want %d then 0", rs, i.Pid)
	}
	if rs[2].Error == nil || rs[2].Error.Fault() != supervisor.FaultBadName {
		t.Errorf("Pid nosuch = %+v, want BAD_NAME", rs[2])
	}
	rs, err = c.Signal(ctx, "BOGUS", "web:*")
	if err != nil || len(rs) != 1 || rs[0].Name != "web:*" || len(rs[0].Results) == 0 ||
		rs[0].Results[0].Code != int(supervisor.FaultBadSignal) {
		t.Fatalf("Signal = %+v, %v", rs, err)
	}
	// "all" anywhere means every process, in one call.
	rs, err = c.Stop(ctx, "web:w0", "all")
	if err != nil || len(rs) != 1 || rs[0].Name != "all" {
		t.Fatalf("Stop = %+v, %v", rs, err)
	}
	if i, _ := eng.Info("web:w0"); !i.State.IsStopped() {
		t.Fatalf("web:w0 is %v after Stop", i.State)
	}
	r, err := c.Restart(ctx, "web:w1")
	if err != nil || len(r.Stopped) != 1 || len(r.Started) != 1 || r.Started[0].Error != nil {
		t.Fatalf("Restart = %+v, %v", r, err)
	}
	if i, _ := eng.Info("web:w1"); i.State != supervisor.Running {
		t.Fatalf("web:w1 is %v after Restart", i.State)
	}
	if rs, err = c.Clear(ctx, "web:w1"); err != nil || len(rs) != 1 || rs[0].Error != nil {
		t.Fatalf("Clear = %+v, %v", rs, err)
	}
}

func TestTail(t *testing.T) {
	echo := supervisor.NewSpec("echo", "sh", "-c", "echo first; exec sleep 100")
	echo.StartSecs = 0
	c, _ := serve(t, nil, echo)
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := c.Tail(ctx, "echo", "stdout", 3)
		if err == nil && string(data) == "st\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Tail = %q, %v", data, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := c.Tail(ctx, "nosuch", "stdout", 10)
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Fault() != supervisor.FaultBadName {
		t.Errorf("Tail nosuch = %v, want BAD_NAME", err)
	}
	if _, err := c.MainTail(ctx, 10); !errors.As(err, &ae) || ae.Fault() != supervisor.FaultNoFile {
		t.Errorf("MainTail without a main log = %v, want NO_FILE", err)
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.FollowTail(fctx, "echo", "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(stream, buf, len("first\n"))
	if err != nil || string(buf[:n]) != "first\n" {
		t.Fatalf("FollowTail read %q, %v", buf[:n], err)
	}
}

func TestEvalAndVersion(t *testing.T) {
	c, _ := serve(t, &fakeDaemon{})
	ctx := context.Background()
	if out, err := c.Eval(ctx, "1+1"); out != "ran 1+1" || err != nil {
		t.Errorf("Eval = %q, %v", out, err)
	}
	out, err := c.Eval(ctx, "error()")
	var le *LuaError
	if out != "partial\n" || !errors.As(err, &le) || le.Message != "eval:1: boom" {
		t.Errorf("Eval of a failing chunk = %q, %v", out, err)
	}
	if v, err := c.Version(ctx); v.Version != "devel" || v.SupervisorVersion != control.SupervisorVersion || err != nil {
		t.Errorf("Version = %+v, %v", v, err)
	}
}

func TestConnErrors(t *testing.T) {
	dir := t.TempDir()
	refused := filepath.Join(dir, "refused.sock")
	ln, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays; nothing listens
	tests := []struct {
		path       string
		noSuchFile bool
		refused    bool
		text       string
	}{
		{filepath.Join(dir, "none.sock"), true, false, " no such file"},
		{refused, false, true, " refused connection"},
	}
	for _, tt := range tests {
		c, err := New("unix://"+tt.path, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Status(context.Background())
		var ce *ConnError
		if !errors.As(err, &ce) || ce.NoSuchFile() != tt.noSuchFile || ce.Refused() != tt.refused ||
			ce.Error() != "unix://"+tt.path+tt.text {
			t.Errorf("%s: err = %v", tt.path, err)
		}
	}
}

func TestNewBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "unix://", "http://", "/tmp/x.sock"} {
		if _, err := New(u, "", ""); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

// TestAddRemoveStdin: add goes through the daemon's Update for one
// group, remove takes a stopped group out, and stdin reaches a process.
func TestAddRemoveStdin(t *testing.T) {
	d := &fakeDaemon{known: []string{"new", "grp"}}
	catSpec := supervisor.NewSpec("cat", "cat")
	catSpec.StartSecs = 0
	c, eng := serve(t, d, idle("grp", "x"), catSpec)
	ctx := context.Background()

	rs, err := c.Add(ctx, "new", "grp", "nosuch")
	if err != nil || len(rs) != 3 {
		t.Fatalf("Add = %+v, %v", rs, err)
	}
	if rs[0].Error != nil || rs[1].Error.Fault() != supervisor.FaultAlreadyAdded || rs[2].Error.Fault() != supervisor.FaultBadName {
		t.Errorf("Add results %+v %+v %+v", rs[0], rs[1].Error, rs[2].Error)
	}
	if d.calls[0][0] != "new" || len(d.calls) != 2 {
		t.Errorf("Update calls %v, want [new] [nosuch]", d.calls)
	}

	rs, err = c.Remove(ctx, "grp", "cat", "nosuch")
	if err != nil || len(rs) != 3 || rs[0].Error != nil ||
		rs[1].Error.Fault() != supervisor.FaultStillRunning || rs[2].Error.Fault() != supervisor.FaultBadName {
		t.Fatalf("Remove = %+v, %v", rs, err)
	}
	if _, err := eng.Info("grp:x"); err == nil {
		t.Errorf("grp:x still there after remove")
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if i, err := eng.Info("cat"); err == nil && i.State == supervisor.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cat did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.SendStdin(ctx, "cat", "ping\n"); err != nil {
		t.Fatalf("SendStdin: %v", err)
	}
	for {
		out, _ := c.Tail(ctx, "cat", "stdout", 100)
		if string(out) == "ping\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cat's stdout %q, want ping", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var ae *control.APIError
	if err := c.SendStdin(ctx, "nosuch", "x"); !errors.As(err, &ae) || ae.Fault() != supervisor.FaultBadName {
		t.Errorf("SendStdin to nosuch = %v", err)
	}
}
