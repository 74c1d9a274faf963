package daemon

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pageOutImage unmaps this process's pages of its own executable (its
// read-only mappings: code, rodata, pclntab). Startup (config load, the
// Lua compiler, every package's init) touches most of the binary, and the
// kernel's fault-around maps whole 64 KiB runs of it; an idle daemon needs
// a small part of that. MADV_DONTNEED on a private file mapping that was
// never written drops only our page-table entries: the pages stay in the
// page cache, and whatever runs again comes back with a minor fault (no
// disk read, unlike MADV_PAGEOUT, which would evict them). It returns the
// bytes advised.
func pageOutImage() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// The raw call: the range is not Go memory, so no []byte for it.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("madvise %s: %w", fields[0], errno)
		}
		total += int(end - start)
	}
	return total, sc.Err()
}
