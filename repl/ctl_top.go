package repl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor/control"
	"github.com/tend-sh/tend/supervisor/control/client"
	"github.com/tend-sh/tend/top"
)

// topHelp is what `help top` prints: the options and the keys.
const topHelp = `top [-d SECS] [-n N|--once] [-b] [--sort cpu|mem|name] [NAME|GROUP:* ...]
  A live table of the processes (all, or those named): state, pid, uptime,
  CPU %, memory, restarts and last exit, with the totals, refreshed every
  -d seconds (default 2; 500ms works too). When the output is not a
  terminal, or with -b, it prints -n snapshots (default 1) instead.
Keys:
  c m n          sort by CPU, memory, name; r reverses the order
  /              type a filter (Enter keeps it, Esc clears it)
  j k, arrows    select a process; PgUp PgDn g G: a page, the first, the last
  R S U          restart, stop, start the selected process
  space          refresh now; Ctrl-L redraws
  q, Ctrl-C      quit`

// topFlags are top's options, for completion.
var topFlags = []string{"-d", "--interval", "-n", "--once", "-b", "--batch", "--sort"}

// topArgs is a parsed top command line.
type topArgs struct {
	opts  top.Options
	batch bool
	names []string
}

// parseTopArgs reads top's options and names: -d SECS (or a duration such
// as 500ms, also --interval), -n N, --once, -b, --sort KEY, with a value
// after a space or an "=".
func parseTopArgs(args []string) (topArgs, error) {
	var ta topArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			ta.names = append(ta.names, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		value := func() (string, error) {
			if v, ok := takeValue(args, &i, val, hasVal); ok {
				return v, nil
			}
			return "", fmt.Errorf("%s needs a value", name)
		}
		var err error
		switch name {
		case "-b", "--batch":
			ta.batch = true
		case "--once":
			ta.batch, ta.opts.Iterations = true, 1
		case "-d", "--interval":
			var v string
			if v, err = value(); err == nil {
				ta.opts.Interval, err = parseInterval(v)
			}
		case "-n":
			var v string
			if v, err = value(); err == nil {
				ta.opts.Iterations, err = strconv.Atoi(v)
				if err != nil || ta.opts.Iterations < 1 {
					err = fmt.Errorf("-n wants a number of snapshots >= 1, got %q", v)
				}
			}
			ta.batch = true
		case "--sort":
			var v string
			if v, err = value(); err == nil {
				ta.opts.Sort, err = top.ParseSortKey(v)
			}
		default:
			err = fmt.Errorf("unknown option %s", a)
		}
		if err != nil {
			return ta, err
		}
	}
	return ta, nil
}

// parseInterval reads seconds ("2", "0.5") or a Go duration ("500ms"); at
// least 100ms, so that top cannot make the daemon sample /proc in a loop.
func parseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, fmt.Errorf("interval %q is neither seconds nor a duration", s)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < 100*time.Millisecond {
		return 0, fmt.Errorf("interval %s is below the minimum of 100ms", s)
	}
	return d, nil
}

// top runs `tend top`: the live view when both ends are a terminal, else
// snapshots. A daemon that cannot be reached, or a name it does not know,
// fails as status does, before the terminal is touched.
func (x *ctl) top(ctx context.Context, args []string) {
	ta, err := parseTopArgs(args)
	if err != nil {
		x.fail(exitInvalidArgs, "Error: %v", err)
		x.println(lookup("top").helpText())
		return
	}
	ta.opts.Address = x.c.URL()
	d := topDaemon{c: x.c, names: ta.names}
	out, isFile := x.out.(*os.File)
	if !ta.batch && isFile && top.IsTerminal(out) && top.IsTerminal(os.Stdin) {
		err = top.Interactive(ctx, d, os.Stdin, out, ta.opts)
	} else {
		err = top.Batch(ctx, d, x.out, ta.opts)
	}
	err, missing := x.reportUnknown(err)
	switch {
	case missing:
		x.rc = statusUnknown
	case errors.Is(err, context.Canceled):
	case apiError(err) != nil:
		x.fail(exitGeneric, "error: %s", apiError(err).Message)
	default:
		x.transport(err)
	}
}

// topDaemon is top's view of the daemon, through the typed client.
type topDaemon struct {
	c     *client.Client
	names []string // the processes shown; none is all
}

// Usage implements top.Daemon.
func (d topDaemon) Usage(ctx context.Context) ([]control.ProcessUsage, error) {
	return d.c.Usage(ctx, d.names...)
}

// Act implements top.Daemon: it runs the ctl command as `tend VERB NAME`
// would and returns what that prints, on one line.
func (d topDaemon) Act(ctx context.Context, verb, name string) string {
	var out bytes.Buffer
	RunCommand(ctx, d.c, []string{verb, name}, &out, &out)
	return strings.Join(strings.Split(strings.TrimSpace(out.String()), "\n"), "; ")
}
