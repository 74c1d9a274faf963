package control

import (
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// selectInfos keeps the processes the names select ("web", "grp:web_00",
// "grp:*", "all"; every process for none), in the daemon's order. A name
// that selects nothing is a BAD_NAME fault.
func selectInfos(infos []supervisor.Info, names []string) ([]supervisor.Info, error) {
	if len(names) == 0 || slices.Contains(names, "all") {
		return infos, nil
	}
	keep := make([]bool, len(infos))
	for _, name := range names {
		t := supervisor.ParseTarget(name)
		found := false
		for n, i := range infos {
			if i.Group == t.Group && (t.Process == "" || i.Name == t.Process) {
				keep[n], found = true, true
			}
		}
		if !found {
			return nil, &supervisor.Error{Fault: supervisor.FaultBadName, Detail: name}
		}
	}
	var out []supervisor.Info
	for n, i := range infos {
		if keep[n] {
			out = append(out, i)
		}
	}
	return out, nil
}

// parseSince reads since= (Unix seconds, fractions allowed; none or 0 for
// everything).
func parseSince(w http.ResponseWriter, r *http.Request) (time.Time, bool) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		badRequest(w, "since=%q: want Unix seconds", v)
		return time.Time{}, false
	}
	if f == 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(int64(f * 1000)), true
}

// apiUsageHistory answers the resource history of the processes named by
// name= (repeated; all of them when there is none), the points after
// since=. It reads the history and samples nothing.
func (s *Server) apiUsageHistory(w http.ResponseWriter, r *http.Request) {
	since, ok := parseSince(w, r)
	if !ok {
		return
	}
	infos, err := selectInfos(s.eng.Status(), r.URL.Query()["name"])
	if err != nil {
		writeFault(w, err)
		return
	}
	hist := s.eng.UsageHistory(infos, since)
	out := UsageHistoryReply{Step: supervisor.UsageStep.Seconds(), Processes: make([]ProcessHistory, 0, len(infos))}
	for n, i := range infos {
		ph := ProcessHistory{Name: i.Name, Group: i.Group, Points: make([]UsagePoint, 0, len(hist[n]))}
		for _, p := range hist[n] {
			ph.Points = append(ph.Points, UsagePoint{Time: float64(p.Time.UnixMilli()) / 1000, CPUPercent: p.CPUPercent, RSS: p.RSS})
		}
		out.Processes = append(out.Processes, ph)
	}
	writeJSON(w, http.StatusOK, out)
}

// apiConfig answers the resolved config of one process in use (name=),
// every option with its value as text.
func (s *Server) apiConfig(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	for _, sp := range s.eng.Specs() {
		if sp.Namespec() == name {
			writeJSON(w, http.StatusOK, newProcessConfig(sp, s.opts.NoEval))
			return
		}
	}
	writeFault(w, &supervisor.Error{Fault: supervisor.FaultBadName, Detail: name})
}

// newProcessConfig renders a spec's options. With redact, environment
// values are left out (only the names show): a door that refuses eval
// because anyone may reach it must not hand out the secrets programs are
// often given in their environment.
func newProcessConfig(sp supervisor.Spec, redact bool) ProcessConfig {
	out := ProcessConfig{Name: sp.Name, Group: sp.Group, Program: sp.Program, Source: sp.Source}
	for _, o := range supervisor.ProgramOptions {
		v := o.Value(&sp)
		if v == nil {
			continue // a pool option of a plain program
		}
		text := optionText(o.Kind, v, redact)
		if o.Kind == supervisor.KindCommand && sp.CommandLine != "" {
			text = sp.CommandLine
		}
		out.Options = append(out.Options, ConfigOption{Name: o.Name, Value: text, Default: o.Default, Tend: o.Tend})
	}
	return out
}

// optionText writes an option's value as a config would: sizes 1024-based,
// seconds, signal names, "" when unset.
func optionText(k supervisor.Kind, v any, redact bool) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		if k == supervisor.KindCommand {
			words := make([]string, len(x))
			for n, a := range x {
				words[n] = a
				if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
					words[n] = strconv.Quote(a)
				}
			}
			return strings.Join(words, " ")
		}
		return strings.Join(x, ",")
	case []int:
		return supervisor.FormatCodes(x)
	case int:
		text, _ := supervisor.FormatIntOption(k, x)
		return text
	case int64:
		if x == 0 {
			return "0"
		}
		return supervisor.FormatSize(x)
	case time.Duration:
		return strconv.FormatFloat(x.Seconds(), 'f', -1, 64)
	case syscall.Signal:
		return supervisor.SignalName(x)
	case map[string]string:
		env := make([]string, 0, len(x))
		for name, val := range x {
			if redact {
				env = append(env, name+"=…")
			} else {
				env = append(env, name+"="+val)
			}
		}
		slices.Sort(env)
		return strings.Join(env, " ")
	case fmt.Stringer:
		return x.String()
	}
	if reflect.ValueOf(v).IsZero() {
		return ""
	}
	return fmt.Sprintf("%+v", v)
}
