package repl

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// verboseFlags are the options that turn status into its resource table.
var verboseFlags = []string{"-v", "--verbose"}

// statusOrTable runs `status [-v] NAMES`: the supervisorctl lines, or with -v the
// table of `ps`.
func (x *ctl) statusOrTable(ctx context.Context, args []string) {
	names := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return slices.Contains(verboseFlags, a) })
	if len(names) < len(args) {
		x.ps(ctx, names)
		return
	}
	x.status(ctx, names)
}

// ps prints one table row per process: state, pid, uptime, CPU %, memory,
// descriptors, threads, restarts, the last exit and what limits did, with the figures
// counted over the process tree. The exit status follows status's.
func (x *ctl) ps(ctx context.Context, names []string) {
	ps, err := x.c.Usage(ctx, names...)
	err, missing := x.reportUnknown(err)
	if x.transport(err) {
		x.rc = statusUnknown
		return
	}
	if missing {
		x.rc = statusUnknown
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tCPU%\tMEM\tFDS\tTHREADS\tRESTARTS\tLAST EXIT\tLIMIT\tHEALTH")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			supervisor.Namespec(p.Group, p.Name), p.StateName, dash(p.Pid, fmt.Sprint(p.Pid)),
			dash(p.Pid, supervisor.FormatUptime(time.Duration(p.Uptime)*time.Second)),
			dash(p.Pid, fmt.Sprintf("%.1f", p.CPUPercent)), dash(p.Pid, supervisor.FormatSize(p.RSS)),
			dash(p.Pid, fmt.Sprint(p.FDs)), dash(p.Pid, fmt.Sprint(p.Threads)), p.Restarts, lastExit(p), limitNote(p), healthNote(p))
		if supervisor.State(p.State).IsStopped() {
			x.rc = statusStopped
		}
	}
	tw.Flush()
}

// limitNote says why a process is held back: what it waits for (the
// requires option), why a limit last acted on it, with what the limits
// count; "-" when nothing.
func limitNote(p control.ProcessUsage) string {
	var parts []string
	if p.Waiting != "" {
		parts = append(parts, "waiting for "+p.Waiting)
	}
	if p.LimitReason != "" {
		parts = append(parts, p.LimitReason)
	}
	if p.MemoryRestarts > 0 {
		parts = append(parts, fmt.Sprintf("%d max_memory restarts", p.MemoryRestarts))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// healthNote says how the probe and the watchdog stand and why tend last
// killed the process as unhealthy; "-" when it has neither and never was.
func healthNote(p control.ProcessUsage) string {
	var parts []string
	if p.Probe != "" {
		probe := "probe " + p.Probe
		if p.ProbeError != "" {
			probe += " (" + p.ProbeError + ")"
		}
		parts = append(parts, probe)
	}
	if p.Watchdog != "" {
		parts = append(parts, "watchdog "+p.Watchdog)
	}
	if p.KillReason != "" {
		parts = append(parts, "last kill: "+p.KillReason)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// dash is s for a running process and "-" for one without a pid.
func dash(pid int, s string) string {
	if pid == 0 {
		return "-"
	}
	return s
}

// lastExit describes how the last run ended: "exit 1, 17:02:03" or
// "SIGKILL, 17:02:03"; "-" when it never ended.
func lastExit(p control.ProcessUsage) string {
	if p.Stop == 0 {
		return "-"
	}
	how := fmt.Sprintf("exit %d", p.ExitStatus)
	if p.ExitSignal != "" {
		how = "SIG" + p.ExitSignal
	}
	return how + ", " + time.Unix(p.Stop, 0).Local().Format("Jan 02 15:04:05")
}
