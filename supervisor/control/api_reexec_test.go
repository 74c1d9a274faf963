package control

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// reexecDaemon is a fakeDaemon that can re-exec: its exec records that it
// ran and what the status then says.
type reexecDaemon struct {
	fakeDaemon
	refuse error
	execs  chan string // the binary each exec ran for
	status ReexecStatus
}

func (f *reexecDaemon) Reexec(_ context.Context, binary string) (ReexecReply, func(), error) {
	if f.refuse != nil {
		return ReexecReply{}, nil, f.refuse
	}
	return ReexecReply{Generation: 1, Binary: binary, FromVersion: "1", ToVersion: "2"},
		func() { f.execs <- binary }, nil
}

func (f *reexecDaemon) ReexecStatus() ReexecStatus { return f.status }

// POST /v1/reexec answers, then execs; a refusal is a FAILED fault with
// the reason; a door without credentials, or a daemon that cannot re-exec,
// refuses.
func TestAPI_Reexec(t *testing.T) {
	d := &reexecDaemon{execs: make(chan string, 1), status: ReexecStatus{Generation: 1, Version: "2", WindowMS: 12.5}}
	_, srv := newAPITest(t, Options{Daemon: d})
	var reply ReexecReply
	if code := post(t, srv, "/v1/reexec", `{"binary":"/new/tend"}`, &reply); code != http.StatusOK || reply.ToVersion != "2" {
		t.Fatalf("reexec: %d %+v", code, reply)
	}
	if got := <-d.execs; got != "/new/tend" {
		t.Errorf("exec ran for %q", got)
	}
	var st ReexecStatus
	if code := get(t, srv, "/v1/reexec", &st); code != http.StatusOK || st != d.status {
		t.Errorf("status: %d %+v, want %+v", code, st, d.status)
	}

	d.refuse = errors.New("binary /x is not executable")
	var er ErrorReply
	if code := post(t, srv, "/v1/reexec", `{}`, &er); code == http.StatusOK || er.Error == nil ||
		er.Error.Name != "FAILED" || er.Error.Message != "binary /x is not executable" {
		t.Errorf("refused reexec: %d %+v", code, er.Error)
	}
	if len(d.execs) != 0 {
		t.Error("a refused re-exec exec'd")
	}

	for name, opts := range map[string]Options{
		"no auth":   {Daemon: d, NoEval: true},
		"no reexec": {},
	} {
		_, srv := newAPITest(t, opts)
		er = ErrorReply{}
		if code := post(t, srv, "/v1/reexec", `{}`, &er); code == http.StatusOK || er.Error == nil ||
			!strings.Contains(er.Error.Message, "re-exec") {
			t.Errorf("%s: %d %+v", name, code, er.Error)
		}
	}
}
