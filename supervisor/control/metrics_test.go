package control

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// promSample is one parsed sample.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	promName  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseProm is a small parser of the Prometheus text format (0.0.4): it
// validates HELP/TYPE lines (TYPE before samples, one per family), metric
// and label names, label value escapes, and that values are floats.
func parseProm(r io.Reader) ([]promSample, map[string]string, error) {
	types := map[string]string{}
	helped := map[string]bool{}
	done := map[string]bool{} // families whose samples have ended
	lastFamily := ""
	series := map[string]bool{}
	var out []promSample
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fail := func(msg string) error { return fmt.Errorf("line %d %q: %s", n, line, msg) }
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 || (f[0] != "HELP" && f[0] != "TYPE") {
				continue // a comment
			}
			if !promName.MatchString(f[1]) {
				return nil, nil, fail("bad metric name")
			}
			if f[0] == "HELP" {
				if helped[f[1]] {
					return nil, nil, fail("second HELP")
				}
				helped[f[1]] = true
				continue
			}
			switch f[2] {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				return nil, nil, fail("bad type")
			}
			if _, dup := types[f[1]]; dup {
				return nil, nil, fail("second TYPE")
			}
			if f[2] == "counter" && !strings.HasSuffix(f[1], "_total") {
				return nil, nil, fail("counter name without _total")
			}
			types[f[1]] = f[2]
			continue
		}
		s := promSample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			return nil, nil, fail("no value")
		}
		s.name = line[:i]
		if !promName.MatchString(s.name) {
			return nil, nil, fail("bad metric name")
		}
		if _, ok := types[s.name]; !ok {
			return nil, nil, fail("sample before its TYPE")
		}
		// A family's samples come together, after its own TYPE line.
		if s.name != lastFamily {
			if done[s.name] {
				return nil, nil, fail("family split in two")
			}
			if lastFamily != "" {
				done[lastFamily] = true
			}
			lastFamily = s.name
		}
		rest := line[i:]
		if rest[0] == '{' {
			rest = rest[1:]
			for !strings.HasPrefix(rest, "}") {
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					return nil, nil, fail("bad label")
				}
				lname := rest[:eq]
				if !promLabel.MatchString(lname) {
					return nil, nil, fail("bad label name")
				}
				if _, dup := s.labels[lname]; dup {
					return nil, nil, fail("label given twice")
				}
				rest = rest[eq+2:]
				var val strings.Builder
				for {
					if rest == "" {
						return nil, nil, fail("unterminated label value")
					}
					c := rest[0]
					rest = rest[1:]
					if c == '"' {
						break
					}
					if c == '\\' {
						if rest == "" {
							return nil, nil, fail("bad escape")
						}
						switch rest[0] {
						case '\\', '"':
							val.WriteByte(rest[0])
						case 'n':
							val.WriteByte('\n')
						default:
							return nil, nil, fail("bad escape")
						}
						rest = rest[1:]
						continue
					}
					val.WriteByte(c)
				}
				s.labels[lname] = val.String()
				rest = strings.TrimPrefix(rest, ",")
			}
			rest = rest[1:]
		}
		f := strings.Fields(rest)
		if len(f) < 1 || len(f) > 2 {
			return nil, nil, fail("bad value field count")
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, nil, fail("value is not a float")
		}
		s.value = v
		key := s.name + fmt.Sprint(s.labels) // fmt sorts map keys
		if series[key] {
			return nil, nil, fail("series given twice")
		}
		series[key] = true
		out = append(out, s)
	}
	return out, types, sc.Err()
}

func TestParsePromRejects(t *testing.T) {
	for _, bad := range []string{
		"x 1\n",
		"# TYPE x gauge\nx{a=\"1} 2\n",
		"# TYPE x gauge\nx one\n",
		"# TYPE x wat\n",
		"# TYPE 1x gauge\n",
		"# TYPE x gauge\nx{1a=\"b\"} 1\n",
		"# TYPE x gauge\nx{a=\"b\",a=\"c\"} 1\n",
		"# TYPE x gauge\nx{a=\"b\"} 1\nx{a=\"b\"} 2\n",
		"# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 2\n",
		"# TYPE x counter\nx 1\n",
	} {
		if _, _, err := parseProm(strings.NewReader(bad)); err == nil {
			t.Errorf("parser accepted %q", bad)
		}
	}
}

func TestMetrics(t *testing.T) {
	inUse, avail := xrtSpecs()
	env := xrtStart(t, inUse, avail, "", "")
	env.daemon.hooks = HookStats{Calls: 7, Errors: 2, Timeouts: 1, Seconds: 0.25}
	env.waitTalkerOutput(t)
	resp, err := http.Get("http://" + env.tcp + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	samples, types, err := parseProm(resp.Body)
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	get := func(name string, labels ...string) (float64, bool) {
		for _, s := range samples {
			if s.name != name {
				continue
			}
			match := true
			for i := 0; i+1 < len(labels); i += 2 {
				match = match && s.labels[labels[i]] == labels[i+1]
			}
			if match {
				return s.value, true
			}
		}
		return 0, false
	}
	checks := []struct {
		name   string
		labels []string
		want   func(float64) bool
	}{
		{"tend_process_state", []string{"name", "sleeper", "group", "sleeper"}, func(v float64) bool { return v == 20 }},
		{"tend_process_state", []string{"name", "idle"}, func(v float64) bool { return v == 0 }},
		{"tend_process_state_info", []string{"name", "sleeper", "state", "RUNNING"}, func(v float64) bool { return v == 1 }},
		{"tend_process_state_info", []string{"name", "sleeper", "state", "STOPPED"}, func(v float64) bool { return v == 0 }},
		{"tend_process_up", []string{"name", "w1", "group", "grp"}, func(v float64) bool { return v == 1 }},
		{"tend_process_restarts_total", []string{"name", "sleeper"}, func(v float64) bool { return v == 0 }},
		{"tend_process_exit_status", []string{"name", "idle"}, func(v float64) bool { return v == 0 }},
		{"tend_process_uptime_seconds", []string{"name", "sleeper"}, func(v float64) bool { return v >= 0 }},
		{"tend_process_log_bytes", []string{"name", "talker", "channel", "stdout"}, func(v float64) bool { return v == 6 }},
		{"tend_process_log_bytes", []string{"name", "talker", "channel", "stderr"}, func(v float64) bool { return v == 5 }},
		{"tend_process_cpu_seconds_total", []string{"name", "sleeper", "group", "sleeper"}, func(v float64) bool { return v >= 0 }},
		{"tend_process_resident_memory_bytes", []string{"name", "sleeper"}, func(v float64) bool { return v > 100<<10 }},
		{"tend_process_open_fds", []string{"name", "sleeper"}, func(v float64) bool { return v >= 3 }},
		{"tend_process_threads", []string{"name", "sleeper"}, func(v float64) bool { return v >= 1 }},
		{"tend_process_tree_processes", []string{"name", "w1", "group", "grp"}, func(v float64) bool { return v >= 1 }},
		{"tend_process_start_limit_failures", []string{"name", "sleeper"}, func(v float64) bool { return v == 0 }},
		{"tend_process_memory_restarts_total", []string{"name", "sleeper"}, func(v float64) bool { return v == 0 }},
		{"tend_process_limit_fatal", []string{"name", "idle"}, func(v float64) bool { return v == 0 }},
		{"tend_up", nil, func(v float64) bool { return v == 1 }},
		{"tend_resident_memory_bytes", nil, func(v float64) bool { return v > 1<<20 }},
		{"tend_goroutines", nil, func(v float64) bool { return v > 1 }},
		{"tend_hook_calls_total", nil, func(v float64) bool { return v == 7 }},
		{"tend_hook_errors_total", nil, func(v float64) bool { return v == 2 }},
		{"tend_hook_timeouts_total", nil, func(v float64) bool { return v == 1 }},
		{"tend_hook_duration_seconds_total", nil, func(v float64) bool { return v == 0.25 }},
	}
	for _, c := range checks {
		v, ok := get(c.name, c.labels...)
		if !ok || !c.want(v) {
			t.Errorf("%s%v = %v (found %v)", c.name, c.labels, v, ok)
		}
	}
	if _, ok := get("tend_process_resident_memory_bytes", "name", "idle"); ok {
		t.Errorf("a stopped process has a memory series")
	}
	if types["tend_process_cpu_seconds_total"] != "counter" || types["tend_process_resident_memory_bytes"] != "gauge" {
		t.Errorf("types %v", types)
	}
	if types["tend_process_restarts_total"] != "counter" || types["tend_process_state"] != "gauge" {
		t.Errorf("types %v", types)
	}
	if strings.Count(fmt.Sprint(samples), "tend_process_state_info") != 5*8 {
		t.Errorf("one-hot state series: want 8 per process")
	}
}

// The bytes a log file could not take are counted per process and channel.
func TestMetricsLogDropped(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	inUse, avail := xrtSpecs()
	full := supervisor.NewSpec("full", "cat")
	full.StartSecs = 0
	full.Stdout.Path = "/dev/full"
	env := xrtStart(t, append(inUse, full), avail, "", "")
	env.eng.WaitState("full", supervisor.Running)
	if err := env.eng.SendStdin("full", []byte("12345\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i, _ := env.eng.Info("full"); i.DroppedStdout < 6; i, _ = env.eng.Info("full") {
		if time.Now().After(deadline) {
			t.Fatalf("DroppedStdout = %d, want 6", i.DroppedStdout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + env.tcp + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	samples, types, err := parseProm(resp.Body)
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	if types["tend_log_dropped_bytes_total"] != "counter" {
		t.Errorf("type %q", types["tend_log_dropped_bytes_total"])
	}
	got := map[string]float64{}
	for _, s := range samples {
		if s.name == "tend_log_dropped_bytes_total" {
			got[s.labels["name"]+"/"+s.labels["channel"]] = s.value
		}
	}
	if got["full/stdout"] != 6 || got["talker/stdout"] != 0 || len(got) < 3 {
		t.Errorf("tend_log_dropped_bytes_total = %v, want full/stdout 6 and zeros", got)
	}
}
