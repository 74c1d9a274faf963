package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSize parses a size the way supervisord does: a plain integer is bytes,
// and an integer followed by KB, MB or GB (any case) is 1024-based, so "50MB"
// is 52428800. Anything else is an error.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	if len(t) > 2 {
		switch strings.ToLower(t[len(t)-2:]) {
		case "kb":
			mult = 1024
		case "mb":
			mult = 1024 * 1024
		case "gb":
			mult = 1024 * 1024 * 1024
		}
		if mult > 1 {
			t = strings.TrimSpace(t[:len(t)-2])
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes, optionally followed by KB, MB or GB", s)
	}
	return n * mult, nil
}

// ParseSignal parses a signal as supervisord accepts it: a name with or
// without the SIG prefix (any case), or a number.
func ParseSignal(s string) (syscall.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(t, "SIG") {
		t = "SIG" + t
	}
	sig := unix.SignalNum(t)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal name %q", s)
	}
	return sig, nil
}

// SignalName returns the name of sig without the SIG prefix ("TERM").
func SignalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return strings.TrimPrefix(n, "SIG")
	}
	return strconv.Itoa(int(sig))
}

// FormatSize writes n bytes in 1024-based units with one decimal
// ("12.5MiB"), as status -v and the limit messages show memory.
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + "B"
	}
	f, u := float64(n), 0
	for f >= unit && u < 4 {
		f /= unit
		u++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + []string{"B", "KiB", "MiB", "GiB", "TiB"}[u]
}
