package vm

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/tend-sh/tend/stdlib"
	"github.com/tend-sh/tend/supervisor"
)

// FormatCheck writes what tend check prints: every resolved process with
// its namespec and source, argv, directory, user, the environment that
// differs from the daemon's, start and restart settings, logs and hooks.
func FormatCheck(w io.Writer, cfg *Config) error {
	base := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			base[k] = v
		}
	}
	for k, v := range cfg.Daemon.Environment {
		base[k] = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d processes\n", cfg.Path, len(cfg.Specs))
	for _, s := range cfg.Specs {
		fmt.Fprintf(&b, "\n%s  (%s)\n", s.Namespec(), s.Source)
		field := func(name, value string) { fmt.Fprintf(&b, "  %-12s %s\n", name, value) }
		field("command", stdlib.Join(s.Command))
		field("directory", orDash(s.Directory))
		field("user", orDash(s.User))
		var env []string
		for k, v := range s.Environment {
			if bv, ok := base[k]; !ok || bv != v {
				env = append(env, k+"="+stdlib.Quote(v))
			}
		}
		slices.Sort(env)
		field("environment", orDash(strings.Join(env, " ")))
		umask := "-"
		if s.Umask >= 0 {
			umask = fmt.Sprintf("%03o", s.Umask)
		}
		field("start", fmt.Sprintf("autostart=%t priority=%d group_priority=%d startsecs=%s startretries=%s umask=%s",
			s.AutoStart, s.Priority, s.GroupPriority, secs(s.StartSecs), retries(s.StartRetries), umask))
		codes := make([]string, len(s.ExitCodes))
		for i, c := range s.ExitCodes {
			codes[i] = strconv.Itoa(c)
		}
		field("restart", fmt.Sprintf("autorestart=%s exitcodes=%s", s.AutoRestart, strings.Join(codes, ",")))
		field("stop", fmt.Sprintf("stopsignal=%s stopwaitsecs=%s stopasgroup=%t killasgroup=%t",
			supervisor.SignalName(s.StopSignal), secs(s.StopWait), s.StopAsGroup, s.KillAsGroup))
		stderr := logDesc(s.Stderr)
		if s.RedirectStderr {
			stderr = "redirected to stdout"
		}
		field("stdout", logDesc(s.Stdout))
		field("stderr", stderr)
		if s.Listener != nil {
			field("events", fmt.Sprintf("%s buffer_size=%d (eventlistener pool %q)",
				strings.Join(s.Listener.Events, ","), s.Listener.BufferSize, s.Program))
		}
		hooks := "-"
		if h := cfg.hooks[s.Namespec()]; len(h) > 0 {
			hooks = strings.Join(h, ", ") + " (timeout " + secs(s.HookTimeout) + ")"
		}
		field("hooks", hooks)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }

func retries(n int) string {
	if n == int(^uint(0)>>1) {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func logDesc(l supervisor.LogSpec) string {
	if l.Path == supervisor.LogNone {
		return l.Path
	}
	return fmt.Sprintf("%s (maxbytes %s, backups %d)", l.Path, humanize.IBytes(uint64(l.MaxBytes)), l.Backups)
}
