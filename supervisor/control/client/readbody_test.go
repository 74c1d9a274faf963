package client

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor/control"
)

// TestReadBody: a reply is read whole with or without a Content-Length,
// and one that ends before its Content-Length is an error, not a shorter
// reply.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		length  int64
		want    string
		wantErr bool
	}{
		{"sized", "hello", 5, "hello", false},
		{"unsized", "hello", -1, "hello", false},
		{"short", "hel", 5, "", true},
		{"too large to presize", "hello", maxPresize + 1, "hello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tc.length, Body: io.NopCloser(strings.NewReader(tc.body))}
			got, err := readBody(resp)
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Fatalf("readBody = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestStatusReplyPresize: the presized status reply decodes to what the
// plain one does, with room for every process.
func TestStatusReplyPresize(t *testing.T) {
	in := control.StatusReply{Processes: []control.ProcessInfo{{Name: "a", Group: "a", StateName: "RUNNING"}, {Name: "b", Group: "g"}}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var r statusReply
	r.presize(data)
	if cap(r.Processes) != 2 {
		t.Fatalf("capacity %d, want 2", cap(r.Processes))
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Processes) != 2 || r.Processes[0].StateName != "RUNNING" || r.Processes[1].Group != "g" {
		t.Fatalf("decoded %+v", r.Processes)
	}
}
