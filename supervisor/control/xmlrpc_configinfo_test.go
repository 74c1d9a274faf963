package control

import (
	"slices"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// TestConfigInfoMembers checks getAllConfigInfo's struct against
// supervisord 4.2.5's members (rpcinterface.getAllConfigInfo) and a few
// of its value conversions.
func TestConfigInfoMembers(t *testing.T) {
	want := []string{"autostart", "command", "directory", "exitcodes", "group", "group_prio", "inuse",
		"killasgroup", "name", "process_prio", "redirect_stderr", "serverurl", "startretries", "startsecs",
		"stderr_capture_maxbytes", "stderr_events_enabled", "stderr_logfile", "stderr_logfile_backups",
		"stderr_logfile_maxbytes", "stderr_syslog", "stdout_capture_maxbytes", "stdout_events_enabled",
		"stdout_logfile", "stdout_logfile_backups", "stdout_logfile_maxbytes", "stdout_syslog",
		"stopsignal", "stopwaitsecs", "uid"}
	s := supervisor.NewSpec("a", "sleep", "1")
	s.StopWait, s.Stderr.Path = 1500*time.Millisecond, supervisor.LogNone
	st := xrConfigStruct(s, true)
	var got []string
	for _, m := range st {
		got = append(got, m.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("members %v\nwant    %v", got, want)
	}
	for name, v := range map[string]any{"stopwaitsecs": int64(1), "stopsignal": 15, "stdout_logfile": "auto",
		"stderr_logfile": "none", "directory": "none", "serverurl": "none", "exitcodes": []any{0},
		"stdout_logfile_maxbytes": int64(50 << 20), "process_prio": 999, "uid": "none", "command": "sleep 1"} {
		if i := slices.IndexFunc(st, func(m xrMember) bool { return m.Name == name }); i < 0 || !equalAny(st[i].Value, v) {
			t.Errorf("%s = %#v, want %#v", name, st[max(i, 0)].Value, v)
		}
	}
}

func equalAny(a, b any) bool {
	as, ok1 := a.([]any)
	bs, ok2 := b.([]any)
	if ok1 && ok2 {
		return slices.Equal(as, bs)
	}
	return a == b
}
