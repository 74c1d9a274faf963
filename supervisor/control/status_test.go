package control

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/internal/testkit/enginekit"
	"github.com/tend-sh/tend/supervisor"
)

// Issue 16: the status replies (JSON and getAllProcessInfo) are encoded
// once and served again while nothing changes, yet a change of state, or
// the clock's next second (replies carry "now"), gives a fresh reply at
// once.
func TestStatusReplyCache(t *testing.T) {
	for _, xmlrpc := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "xmlrpc"}[xmlrpc], func(t *testing.T) { testStatusReplyCache(t, xmlrpc) })
	}
}

func testStatusReplyCache(t *testing.T, xmlrpc bool) {
	clock := testkit.NewFakeClock()
	eng := enginekit.New(t, supervisor.Config{Clock: clock})
	a, b := enginekit.Sleeper("a"), enginekit.Sleeper("b")
	a.AutoStart, b.AutoStart = false, false
	eng.Load(a, b)
	s := New(Options{Engine: eng.Engine, Daemon: &fakeDaemon{evalDone: make(chan error, 1)}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	getBody := func() string {
		resp, err := http.Get(srv.URL + "/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	xrBody := func() string {
		resp, err := http.Post(srv.URL+"/RPC2", "text/xml", strings.NewReader(
			"<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	get, cache := getBody, &s.statusJSON
	if xmlrpc {
		get, cache = xrBody, &s.xrAllInfo
	}
	first := get()
	built := &cache.body[0]
	if again := get(); again != first || &cache.body[0] != built {
		t.Fatalf("a second request with nothing changed was encoded again")
	}
	if strings.Count(first, "STOPPED") != 2 {
		t.Fatalf("want both STOPPED: %s", first)
	}
	if _, err := eng.Start(context.Background(), supervisor.ParseTarget("a"), false); err != nil {
		t.Fatal(err)
	}
	if got := get(); !strings.Contains(got, "STARTING") && !strings.Contains(got, "RUNNING") {
		t.Fatalf("after starting a, the reply still says: %s", got)
	}
	before := get()
	clock.Advance(time.Second)
	if after := get(); after == before {
		t.Fatalf("a second later the reply is the same (now must move)")
	}
	if _, err := eng.Stop(context.Background(), supervisor.ParseTarget("a"), true); err != nil {
		t.Fatal(err)
	}
}

// Issue 16: a status request for some names carries only those
// processes; a name that designates nothing adds nothing.
func TestAPI_StatusNames(t *testing.T) {
	idle := enginekit.Sleeper("idle")
	idle.AutoStart = false
	_, srv := newAPITest(t, Options{}, enginekit.Sleeper("a"), idle)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"a", "idle"}},
		{"?name=a", []string{"a"}},
		{"?name=idle:*", []string{"idle"}},
		{"?name=nosuch&name=idle", []string{"idle"}},
		{"?name=nosuch", nil},
		{"?name=all", []string{"a", "idle"}},
	} {
		var r StatusReply
		if code := get(t, srv, "/v1/status"+tc.query, &r); code != 200 {
			t.Fatalf("%s: status %d", tc.query, code)
		}
		var got []string
		for _, p := range r.Processes {
			got = append(got, p.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("/v1/status%s lists %v, want %v", tc.query, got, tc.want)
		}
	}
}
