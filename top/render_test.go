package top

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tend-sh/tend/supervisor/control"
)

// now is the frames' clock: the exits below happened today or yesterday.
var now = time.Date(2026, 12, 3, 17, 30, 0, 0, time.UTC)

// proc is a process with the fields the table shows.
func proc(group, name, state string, pid int, cpu float64, rss int64) control.ProcessUsage {
	p := control.ProcessUsage{CPUPercent: cpu, RSS: rss}
	p.Group, p.Name, p.StateName, p.Pid = group, name, state, pid
	if pid != 0 {
		p.Uptime = 3725
	}
	return p
}

// sample is a table of five processes: one burning CPU, one big, two idle,
// one that exited.
func sample() []control.ProcessUsage {
	exited := proc("cron", "cron", "EXITED", 0, 0, 0)
	exited.Stop, exited.ExitStatus = now.Add(-time.Hour).Unix(), 3
	killed := proc("web", "web_01", "RUNNING", 4102, 0.5, 30<<20)
	killed.Restarts, killed.Stop, killed.ExitSignal = 2, now.Add(-26*time.Hour).Unix(), "KILL"
	return []control.ProcessUsage{
		exited,
		proc("burner", "burner", "RUNNING", 4100, 99.5, 1<<20),
		proc("web", "web_00", "RUNNING", 4101, 2.25, 120<<20),
		killed,
		proc("idle", "idle", "STOPPED", 0, 0, 0),
	}
}

func names(ps []control.ProcessUsage) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = namespec(p)
	}
	return out
}

func TestSnapshot(t *testing.T) {
	v := &view{procs: sample(), fetched: now}
	got := strings.Join(v.frame(frameOpts{now: now, address: "unix:///run/tend.sock"}), "\n")
	want := `tend top - unix:///run/tend.sock - 17:30:00
CPU 102.2%  MEM 151 MiB  5 processes: 3 RUNNING, 1 STOPPED, 1 EXITED  sort cpu
NAME        STATE     PID   UPTIME  CPU%      MEM  RESTARTS  LAST EXIT
burner      RUNNING  4100  1:02:05  99.5  1.0 MiB         0  -
web:web_00  RUNNING  4101  1:02:05   2.2  120 MiB         0  -
web:web_01  RUNNING  4102  1:02:05   0.5   30 MiB         2  SIGKILL Dec 02
cron        EXITED      -        -     -        -         0  exit 3 16:30:00
idle        STOPPED     -        -     -        -         0  -`
	if got != want {
		t.Errorf("snapshot:\n%s\nwant:\n%s", got, want)
	}
}

func TestSort(t *testing.T) {
	tests := []struct {
		key     SortKey
		reverse bool
		want    []string
	}{
		// Processes without a pid have no figures: they go last, by name.
		{ByCPU, false, []string{"burner", "web:web_00", "web:web_01", "cron", "idle"}},
		{ByMem, false, []string{"web:web_00", "web:web_01", "burner", "cron", "idle"}},
		{ByName, false, []string{"burner", "cron", "idle", "web:web_00", "web:web_01"}},
		{ByCPU, true, []string{"cron", "idle", "web:web_01", "web:web_00", "burner"}},
		{ByName, true, []string{"web:web_01", "web:web_00", "idle", "cron", "burner"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s reverse=%v", tt.key, tt.reverse), func(t *testing.T) {
			v := &view{procs: sample(), sort: tt.key, reverse: tt.reverse}
			if got := names(v.rows()); !slices.Equal(got, tt.want) {
				t.Errorf("order %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []string
	}{
		{"", []string{"burner", "web:web_00", "web:web_01", "cron", "idle"}},
		{"web", []string{"web:web_00", "web:web_01"}},
		{"WEB:WEB_01", []string{"web:web_01"}}, // any case, the whole namespec
		{"r", []string{"burner", "cron"}},
		{"nothing", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			v := &view{procs: sample(), filter: tt.filter}
			if got := names(v.rows()); !slices.Equal(got, tt.want) {
				t.Errorf("rows %q, want %q", got, tt.want)
			}
			lines := v.frame(frameOpts{now: now})
			if len(lines) != 3+len(tt.want) {
				t.Errorf("%d lines for %d rows:\n%s", len(lines), len(tt.want), strings.Join(lines, "\n"))
			}
			note := fmt.Sprintf("filter %q: %d shown", tt.filter, len(tt.want))
			if got := strings.Contains(lines[1], note); got != (tt.filter != "") {
				t.Errorf("summary %q: has %q = %v", lines[1], note, got)
			}
			// The totals count every process, filtered or not.
			if !strings.Contains(lines[1], "5 processes") {
				t.Errorf("summary %q does not count all 5 processes", lines[1])
			}
		})
	}
}

// visible is a terminal line without its styles.
func visible(l string) string {
	for _, st := range []string{styleBold, styleReverse, styleReset} {
		l = strings.ReplaceAll(l, st, "")
	}
	return l
}

func TestFitsTheTerminal(t *testing.T) {
	long := proc("a_group_with_a_long_name", "and_a_process_with_a_longer_one_00", "RUNNING", 77, 1, 1<<30)
	procs := append(sample(), long)
	tests := []struct {
		width   int
		headers []string // the columns shown
		name    string   // the long name as shown
	}{
		{200, []string{"NAME", "STATE", "PID", "UPTIME", "CPU%", "MEM", "RESTARTS", "LAST EXIT"}, namespec(long)},
		{100, []string{"NAME", "STATE", "PID", "UPTIME", "CPU%", "MEM", "RESTARTS", "LAST EXIT"}, "a_group_with_a_long_name:and_a_pr~"},
		{80, []string{"NAME", "STATE", "PID", "UPTIME", "CPU%", "MEM", "RESTARTS"}, "a_group_with_a_long_name:and_a~"},
		{60, []string{"NAME", "STATE", "PID", "UPTIME", "CPU%", "MEM"}, "a_group_with_a_long_~"},
		{50, []string{"NAME", "STATE", "PID", "CPU%", "MEM"}, "a_group_with_a_long~"},
		{40, []string{"NAME", "STATE", "CPU%", "MEM"}, "a_group_with_a_~"},
		{30, []string{"NAME", "STATE", "CPU%", "MEM"}, "a_gro~"},
		{12, []string{"NAME", "STATE"}, "a_g~"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.width), func(t *testing.T) {
			v := &view{procs: procs, fetched: now, sort: ByMem}
			lines := v.frame(frameOpts{width: tt.width, height: 20, tty: true, now: now, address: "http://127.0.0.1:9001", interval: 2 * time.Second})
			if len(lines) != 20 {
				t.Errorf("%d lines, want the terminal's 20", len(lines))
			}
			for i, l := range lines {
				if n := utf8.RuneCountInString(visible(l)); n > tt.width {
					t.Errorf("line %d is %d wide, over %d: %q", i, n, tt.width, visible(l))
				}
			}
			header := strings.Fields(strings.ReplaceAll(visible(lines[2]), "LAST EXIT", "LAST_EXIT"))
			for i := range header {
				header[i] = strings.ReplaceAll(header[i], "_", " ")
			}
			if !slices.Equal(header, tt.headers) {
				t.Errorf("columns %q, want %q", header, tt.headers)
			}
			if f := strings.Fields(visible(lines[3])); len(f) == 0 || f[0] != tt.name {
				t.Errorf("first row %q, want the long name as %q", visible(lines[3]), tt.name)
			}
			if got := visible(lines[19]); got != helpLine[:min(tt.width, len(helpLine))] {
				t.Errorf("last line %q, want the keys", got)
			}
		})
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		w    int
		want string
	}{
		{"web", 5, "web"}, {"web", 3, "web"}, {"webserver", 4, "web~"},
		{"web", 1, "w"}, {"web", 0, ""}, {"épée_longue", 5, "épée~"},
	}
	for _, tt := range tests {
		if got := cut(tt.s, tt.w); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.want)
		}
	}
}

func TestScrollKeepsTheSelectionInSight(t *testing.T) {
	var procs []control.ProcessUsage
	for i := range 30 {
		procs = append(procs, proc("p", fmt.Sprintf("p_%02d", i), "RUNNING", 100+i, 0, 0))
	}
	v := &view{procs: procs, sort: ByName}
	o := frameOpts{width: 80, height: 10, tty: true, now: now} // 6 rows fit
	v.frame(o)
	for range 20 {
		v.handle(key{r: 'j'}, now)
	}
	lines := v.frame(o)
	var selected []string
	for _, l := range lines {
		if strings.HasPrefix(l, styleReverse) {
			selected = append(selected, strings.Fields(visible(l))[0])
		}
	}
	if !slices.Equal(selected, []string{"p:p_20"}) {
		t.Fatalf("selected rows %q, want p:p_20 on screen:\n%s", selected, strings.Join(lines, "\n"))
	}
	if f := strings.Fields(visible(lines[3])); f[0] != "p:p_15" {
		t.Errorf("first row %q, want p:p_15 (scrolled so that p_20 is the last of 6)", f[0])
	}
	v.handle(key{special: keyPgUp}, now)
	v.handle(key{special: keyPgUp}, now)
	v.frame(o)
	if v.selected != "p:p_08" || v.top != 8 {
		t.Errorf("after two PgUp: selected %s, top %d; want p:p_08 at the top", v.selected, v.top)
	}
	v.handle(key{r: 'G'}, now)
	v.frame(o)
	if v.selected != "p:p_29" || v.top != 24 {
		t.Errorf("after G: selected %s, top %d; want p:p_29, top 24", v.selected, v.top)
	}
}

// A name or a message with control characters cannot drive the terminal.
func TestNoControlCharacters(t *testing.T) {
	v := &view{procs: []control.ProcessUsage{proc("x", "evil\x1b[2J\r", "RUNNING", 1, 0, 0)}}
	v.setMsg("done\x1b]0;title\x07", now)
	lines := v.frame(frameOpts{width: 80, height: 6, tty: true, now: now})
	if got := strings.Fields(visible(lines[3]))[0]; got != "x:evil?[2J?" {
		t.Errorf("name shown as %q", got)
	}
	if got := lines[5]; got != "done?]0;title?" {
		t.Errorf("message shown as %q", got)
	}
}
