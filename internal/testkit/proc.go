package testkit

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
)

// FDs returns the open descriptors of process pid, sorted.
func FDs(tb testing.TB, pid int) []int {
	tb.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		tb.Fatal(err)
	}
	var fds []int
	for _, e := range entries {
		n, _ := strconv.Atoi(e.Name())
		fds = append(fds, n)
	}
	slices.Sort(fds)
	return fds
}
