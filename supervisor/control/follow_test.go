package control

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// A follower loses and repeats nothing across a rotation, a clear, and the
// log being replaced.
func TestFollowLogAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	f, err := logfile.Open(filepath.Join(dir, "x.log"), 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	replacement, err := logfile.Open(filepath.Join(dir, "y.log"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	current := f
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followLog(r.Context(), w, f, 1024, func() *logfile.File { return current })
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	f.Write([]byte(strings.Repeat("a", 60)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(body, got); err != nil {
			t.Fatalf("reading %q: %v (got %q)", want, err, got)
		}
		if string(got) != want {
			t.Fatalf("followed %q, want %q", got, want)
		}
	}
	expect(strings.Repeat("a", 60))
	f.Write([]byte(strings.Repeat("b", 50))) // 110 >= 100: rotates after the write
	expect(strings.Repeat("b", 50))
	f.Write([]byte("ccc"))
	expect("ccc")
	f.Clear()
	f.Write([]byte("after-clear"))
	expect("after-clear")
	current = replacement
	f.Close()
	replacement.Write([]byte("new-file"))
	expect("new-file")
	current = nil
	replacement.Close()
	if rest, _ := io.ReadAll(body); len(rest) != 0 {
		t.Fatalf("extra bytes after the log closed: %q", rest)
	}
}
