package daemon

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKB reads RssFile (mapped file pages) from /proc/self/status.
func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestPageOutImage checks that the test binary's own mapped pages leave
// its RSS and that it keeps running on them (the code below runs after).
func TestPageOutImage(t *testing.T) {
	before := rssFileKB(t)
	n, err := pageOutImage()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	if n == 0 {
		t.Fatal("no mapping of the executable was advised")
	}
	// The test binary is several MB, most of it mapped by now; what comes
	// back before the second read is a few pages of this code path.
	if after >= before/2 {
		t.Fatalf("RssFile %d kB -> %d kB: the executable's pages stayed mapped", before, after)
	}
	t.Logf("advised %d kB; RssFile %d -> %d kB", n/1024, before, after)
}
