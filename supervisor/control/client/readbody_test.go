package client

import (
	"io"
	"net/http"
	"strings"
	"testing"
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
