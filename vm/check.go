package vm

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/stdlib"
	"github.com/tend-sh/tend/supervisor"
)

// checkLines are the lines tend check prints for a process, each named by
// the option that starts it: a line runs from that option to the next
// line's, in supervisor.ProgramOptions order, so a new option shows on
// the line of the options declared before it. On a line named after an
// option, that option's value comes first and bare; the others read
// name=value, without the line's stream prefix (stdout_, stderr_).
var checkLines = map[string]string{
	"command": "command", "process_name": "instance", "autostart": "start", "autorestart": "restart",
	"stopsignal": "stop", "user": "run", "environment": "environment", "stdout_logfile": "stdout",
	"redirect_stderr": "stderr", "serverurl": "serverurl", "sockets": "sockets", "socket": "socket", "events": "events",
}

// FormatCheck writes what tend check prints: the files included, every
// resolved process with its namespec and source, then every option's
// value, a few to a line, and its hooks; last the start order (the
// requires option, then priority). The environment shows only what differs from the
// daemon's.
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
	for _, f := range cfg.Included {
		fmt.Fprintf(&b, "included %s\n", f)
	}
	for _, s := range cfg.Specs {
		fmt.Fprintf(&b, "\n%s  (%s)\n", s.Namespec(), s.Source)
		// extra ends a line with what is no option.
		extra := map[string]string{"instance": fmt.Sprintf("group_priority=%d", s.GroupPriority)}
		if s.Listener != nil {
			extra["events"] = fmt.Sprintf("(eventlistener pool %q)", s.Program)
		}
		var label string
		var words []string
		flush := func() {
			if len(words) > 0 {
				if e := extra[label]; e != "" {
					words = append(words, e)
				}
				fmt.Fprintf(&b, "  %-12s %s\n", label, strings.Join(words, " "))
			}
			words = nil
		}
		for _, o := range supervisor.ProgramOptions {
			v := o.Value(&s)
			if v == nil {
				continue // a pool option of a plain program
			}
			if l, ok := checkLines[o.Name]; ok {
				flush()
				label = l
			}
			text := checkValue(o.Kind, v, base)
			switch {
			case o.Name == label:
				words = append(words, text)
			default:
				words = append(words, strings.TrimPrefix(o.Name, label+"_")+"="+text)
			}
		}
		flush()
		hooks := "-"
		if h := cfg.hooks[s.Namespec()]; len(h) > 0 {
			hooks = strings.Join(h, ", ") + " (timeout " + secs(s.HookTimeout) + ")"
		}
		fmt.Fprintf(&b, "  %-12s %s\n", "hooks", hooks)
	}
	formatStartOrder(&b, cfg.Specs)
	_, err := io.WriteString(w, b.String())
	return err
}

// checkValue shows an option's value for tend check; an environment shows
// only the variables that differ from base.
func checkValue(k supervisor.Kind, v any, base map[string]string) string {
	switch x := v.(type) {
	case string:
		return orDash(x)
	case []string: // command, events
		if k == supervisor.KindCommand {
			return stdlib.Join(x)
		}
		return strings.Join(x, ",")
	case []int:
		return supervisor.FormatCodes(x)
	case int:
		if text, ok := supervisor.FormatIntOption(k, x); ok {
			return text
		}
		return "-"
	case int64:
		return size(x)
	case time.Duration:
		return secs(x)
	case syscall.Signal:
		return supervisor.SignalName(x)
	case []supervisor.SocketSpec:
		out := make([]string, len(x))
		for i, sk := range x {
			out[i] = sk.String()
		}
		return orDash(strings.Join(out, ", "))
	case map[string]string:
		var env []string
		for name, val := range x {
			if bv, ok := base[name]; !ok || bv != val {
				env = append(env, name+"="+stdlib.Quote(val))
			}
		}
		slices.Sort(env)
		return orDash(strings.Join(env, " "))
	case supervisor.Requirements:
		return orDash(x.String())
	}
	return fmt.Sprint(v)
}

// size writes a byte count as a config would: "50MB", "1KB" or bytes.
func size(n int64) string {
	for _, u := range []struct {
		suffix string
		bytes  int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if n >= u.bytes && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }
