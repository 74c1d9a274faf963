package control

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// The exposition at /metrics is written by hand in Prometheus text format
// 0.0.4: a score of gauges and counters, read from an engine snapshot at
// scrape time, do not justify the prometheus client library (and its
// dependency tree) in a daemon whose point is to be small. Nothing is
// computed between scrapes.

// HookStats counts the calls of Lua hooks (on_exit, on_backoff...) made by
// the daemon since it started, as Daemon.HookStats reports them for
// /metrics.
type HookStats struct {
	Calls, Errors, Timeouts uint64
	Seconds                 float64 // total time spent in hooks
}

// metricsStates lists every process state for the one-hot
// tend_process_state_info series.
var metricsStates = []supervisor.State{
	supervisor.Stopped, supervisor.Starting, supervisor.Running, supervisor.Backoff,
	supervisor.Stopping, supervisor.Exited, supervisor.Fatal, supervisor.Unknown,
}

// routesMetrics registers GET /metrics.
func (s *Server) routesMetrics() {
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	s.writeMetrics(&b)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// metricsWriter writes families of samples.
type metricsWriter struct{ b *bytes.Buffer }

func (m metricsWriter) family(name, typ, help string) {
	fmt.Fprintf(m.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m metricsWriter) sample(name string, labels []string, v float64) {
	m.b.WriteString(name)
	if len(labels) > 0 {
		m.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.b.WriteByte(',')
			}
			m.b.WriteString(labels[i])
			m.b.WriteString(`="`)
			m.b.WriteString(metricsEscape(labels[i+1]))
			m.b.WriteByte('"')
		}
		m.b.WriteByte('}')
	}
	m.b.WriteByte(' ')
	m.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	m.b.WriteByte('\n')
}

// metricsEscape escapes a label value: backslash, double quote, newline.
func metricsEscape(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s // almost every label: no copy, no replacer
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func metricsBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeMetrics renders every metric family.
func (s *Server) writeMetrics(b *bytes.Buffer) {
	m := metricsWriter{b}
	infos := s.eng.Status()
	lbl := func(i supervisor.Info, extra ...string) []string {
		return append([]string{"name", i.Name, "group", i.Group}, extra...)
	}

	m.family("tend_process_state", "gauge", "Process state as supervisord's numeric code (0 STOPPED, 10 STARTING, 20 RUNNING, 30 BACKOFF, 40 STOPPING, 100 EXITED, 200 FATAL, 1000 UNKNOWN).")
	for _, i := range infos {
		m.sample("tend_process_state", lbl(i), float64(i.State))
	}
	m.family("tend_process_state_info", "gauge", "1 for the state the process is in, 0 for the others.")
	for _, i := range infos {
		for _, st := range metricsStates {
			m.sample("tend_process_state_info", lbl(i, "state", st.String()), metricsBool(i.State == st))
		}
	}
	m.family("tend_process_up", "gauge", "1 if the process is RUNNING.")
	for _, i := range infos {
		m.sample("tend_process_up", lbl(i), metricsBool(i.State == supervisor.Running))
	}
	m.family("tend_process_restarts_total", "counter", "Restarts of the process since the daemon loaded it.")
	for _, i := range infos {
		m.sample("tend_process_restarts_total", lbl(i), float64(i.Restarts))
	}
	m.family("tend_process_exit_status", "gauge", "Exit status of the last exit (0 when unknown).")
	for _, i := range infos {
		m.sample("tend_process_exit_status", lbl(i), float64(i.ExitStatus))
	}
	m.family("tend_process_start_limit_failures", "gauge", "Failures start_limit counts against the process within its interval.")
	for _, i := range infos {
		m.sample("tend_process_start_limit_failures", lbl(i), float64(i.StartFailures))
	}
	m.family("tend_process_memory_restarts_total", "counter", "Restarts made by max_memory since the daemon loaded the process.")
	for _, i := range infos {
		m.sample("tend_process_memory_restarts_total", lbl(i), float64(i.MemoryRestarts))
	}
	m.family("tend_process_limit_fatal", "gauge", "1 when a limit (start_limit, permanent_exitcodes) made the process FATAL.")
	for _, i := range infos {
		m.sample("tend_process_limit_fatal", lbl(i), metricsBool(i.State == supervisor.Fatal && i.LimitReason != ""))
	}
	m.family("tend_process_uptime_seconds", "gauge", "Seconds since the running process was spawned (0 when not running).")
	for _, i := range infos {
		m.sample("tend_process_uptime_seconds", lbl(i), i.Uptime().Seconds())
	}
	m.family("tend_process_start_time_seconds", "gauge", "Unix time of the last spawn (0 if never started).")
	for _, i := range infos {
		m.sample("tend_process_start_time_seconds", lbl(i), float64(xrEpoch(i.Start)))
	}
	m.family("tend_process_log_bytes", "gauge", "Size of the current log file of each channel.")
	for _, i := range infos {
		for _, ch := range []struct{ name, path string }{{"stdout", i.StdoutLogfile}, {"stderr", i.StderrLogfile}} {
			if ch.path == "" {
				continue
			}
			if st, err := os.Stat(ch.path); err == nil && st.Mode().IsRegular() {
				m.sample("tend_process_log_bytes", lbl(i, "channel", ch.name), float64(st.Size()))
			}
		}
	}
	m.family("tend_log_dropped_bytes_total", "counter", "Bytes of output a process's log file could not take (the disk was full).")
	for _, i := range infos {
		for _, ch := range []struct {
			name, path string
			dropped    int64
		}{{"stdout", i.StdoutLogfile, i.DroppedStdout}, {"stderr", i.StderrLogfile, i.DroppedStderr}} {
			if ch.path != "" || ch.dropped > 0 {
				m.sample("tend_log_dropped_bytes_total", lbl(i, "channel", ch.name), float64(ch.dropped))
			}
		}
	}

	s.writeUsageMetrics(m, infos, lbl)

	m.family("tend_up", "gauge", "1 while the daemon is running, 0 once it is shutting down.")
	m.sample("tend_up", nil, metricsBool(!s.eng.ShuttingDown()))
	m.family("tend_processes", "gauge", "Processes configured in the engine.")
	m.sample("tend_processes", nil, float64(len(infos)))
	if rss, ok := metricsRSS(); ok {
		m.family("tend_resident_memory_bytes", "gauge", "Resident set size of the daemon (VmRSS).")
		m.sample("tend_resident_memory_bytes", nil, rss)
	}
	m.family("tend_goroutines", "gauge", "Goroutines in the daemon.")
	m.sample("tend_goroutines", nil, float64(runtime.NumGoroutine()))

	var hs HookStats
	if s.opts.Daemon != nil {
		hs = s.opts.Daemon.HookStats()
	}
	m.family("tend_hook_calls_total", "counter", "Lua hook calls.")
	m.sample("tend_hook_calls_total", nil, float64(hs.Calls))
	m.family("tend_hook_errors_total", "counter", "Lua hook calls that failed.")
	m.sample("tend_hook_errors_total", nil, float64(hs.Errors))
	m.family("tend_hook_timeouts_total", "counter", "Lua hook calls that ran past their deadline.")
	m.sample("tend_hook_timeouts_total", nil, float64(hs.Timeouts))
	m.family("tend_hook_duration_seconds_total", "counter", "Total time spent in Lua hooks.")
	m.sample("tend_hook_duration_seconds_total", nil, hs.Seconds)
	m.family("tend_scrape_timestamp_seconds", "gauge", "When this scrape was rendered.")
	m.sample("tend_scrape_timestamp_seconds", nil, float64(time.Now().UnixMilli())/1000)
}

// metricsRSS reads VmRSS from /proc/self/status, in bytes.
func metricsRSS() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		return kb * 1024, err == nil
	}
	return 0, false
}

// writeUsageMetrics writes the resource figures of every running process
// tree, sampled from /proc now: a scrape is what asks for them, so nothing
// samples between scrapes. Processes that are not running have no series.
func (s *Server) writeUsageMetrics(m metricsWriter, infos []supervisor.Info, lbl func(supervisor.Info, ...string) []string) {
	us := s.eng.Usage(infos)
	fams := []struct {
		name, typ, help string
		val             func(supervisor.Usage) (float64, bool)
	}{
		{"tend_process_cpu_seconds_total", "counter", "User and system CPU time of the process and its descendants, in seconds.",
			func(u supervisor.Usage) (float64, bool) { return u.CPUSeconds, true }},
		{"tend_process_resident_memory_bytes", "gauge", "Resident memory of the process and its descendants, in bytes.",
			func(u supervisor.Usage) (float64, bool) { return float64(u.RSS), true }},
		{"tend_process_open_fds", "gauge", "Open file descriptors of the process and its descendants.",
			func(u supervisor.Usage) (float64, bool) { return float64(u.FDs), true }},
		{"tend_process_threads", "gauge", "Threads of the process and its descendants.",
			func(u supervisor.Usage) (float64, bool) { return float64(u.Threads), true }},
		{"tend_process_tree_processes", "gauge", "Processes in the tree of the supervised process, itself included.",
			func(u supervisor.Usage) (float64, bool) { return float64(u.Procs), true }},
		{"tend_process_read_bytes_total", "counter", "Bytes the live process tree read from storage (/proc/PID/io).",
			func(u supervisor.Usage) (float64, bool) { return float64(u.ReadBytes), u.IOKnown }},
		{"tend_process_written_bytes_total", "counter", "Bytes the live process tree wrote to storage (/proc/PID/io).",
			func(u supervisor.Usage) (float64, bool) { return float64(u.WriteBytes), u.IOKnown }},
	}
	for _, f := range fams {
		m.family(f.name, f.typ, f.help)
		for n, i := range infos {
			if us[n].Pid == 0 {
				continue
			}
			if v, ok := f.val(us[n]); ok {
				m.sample(f.name, lbl(i), v)
			}
		}
	}
}
