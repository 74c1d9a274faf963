package vm

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEventListenerDeclaration(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		events    []string
		buffer    int
	}{
		{"name form", `eventlistener "mon" { command = "memmon -p web=200MB", events = { "PROCESS_STATE", "TICK_60" } }`,
			[]string{"PROCESS_STATE", "TICK_60"}, 10},
		{"table form", `eventlistener { name = "mon", command = "x", events = { "EVENT" }, buffer_size = 3 }`,
			[]string{"EVENT"}, 3},
		{"ini string", `eventlistener "mon" { command = "x", events = "PROCESS_STATE_EXITED, TICK_5" }`,
			[]string{"PROCESS_STATE_EXITED", "TICK_5"}, 10},
		{"any case, duplicates", `eventlistener "mon" { command = "x", events = { "process_state", "Tick_60", "PROCESS_STATE" } }`,
			[]string{"PROCESS_STATE", "TICK_60"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg := loadSource(t, tc.src, Options{})
			if len(cfg.Specs) != 1 {
				t.Fatalf("got %d specs", len(cfg.Specs))
			}
			s := cfg.Specs[0]
			if s.Name != "mon" || s.Group != "mon" || s.Listener == nil {
				t.Fatalf("spec %+v", s)
			}
			// supervisord's pool priority -1: listeners start first, stop last.
			if s.GroupPriority != -1 || s.Priority != 999 {
				t.Errorf("priority %d, group priority %d; want 999, -1", s.Priority, s.GroupPriority)
			}
			if !slices.Equal(s.Listener.Events, tc.events) || s.Listener.BufferSize != tc.buffer {
				t.Errorf("listener %+v, want events %v buffer %d", *s.Listener, tc.events, tc.buffer)
			}
			var b strings.Builder
			if err := FormatCheck(&b, cfg); err != nil {
				t.Fatal(err)
			}
			want := "events       " + strings.Join(tc.events, ",")
			if !strings.Contains(b.String(), want) {
				t.Errorf("tend check output lacks %q:\n%s", want, b.String())
			}
		})
	}
}

func TestEventListenerWithProgramOptions(t *testing.T) {
	_, cfg := loadSource(t, `
program "web" { command = "sleep 100" }
eventlistener "mon" {
  command = "x", events = { "PROCESS_STATE" }, numprocs = 2,
  process_name = "%(program_name)s_%(process_num)d", autorestart = true,
}`, Options{})
	var names []string
	for _, s := range cfg.Specs {
		names = append(names, s.Namespec())
		if s.Program == "web" && s.Listener != nil {
			t.Errorf("program web got a listener spec")
		}
	}
	if !slices.Equal(names, []string{"web", "mon:mon_0", "mon:mon_1"}) {
		t.Errorf("specs %v", names)
	}
}

func TestEventListenerErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"events missing", `eventlistener "mon" { command = "x" }`,
			`tend.lua:1: eventlistener "mon": events is required: a list of event types such as { "PROCESS_STATE", "TICK_60" }`},
		{"events empty", `eventlistener "mon" { command = "x", events = {} }`,
			`tend.lua:1: eventlistener "mon": events must name at least one event type, such as { "PROCESS_STATE" }`},
		{"events typo", `eventlistener "mon" { command = "x", events = { "PROCES_STATE" } }`,
			`tend.lua:1: eventlistener "mon": events: unknown event type "PROCES_STATE" (did you mean "PROCESS_STATE"?)`},
		{"events typo lower case", `eventlistener "mon" { command = "x", events = "tick_6" }`,
			`tend.lua:1: eventlistener "mon": events: unknown event type "tick_6" (did you mean "TICK_5"?)`},
		{"redirect_stderr", `eventlistener "mon" { command = "x", events = { "EVENT" }, redirect_stderr = true }`,
			`tend.lua:1: eventlistener "mon": redirect_stderr = true is not allowed: stderr would interfere with the eventlistener protocol on stdout`},
		{"events not a list", `eventlistener "mon" { command = "x", events = 5 }`,
			`tend.lua:1: eventlistener "mon": events must be a list of event type names, got 5`},
		{"events bad item", `eventlistener "mon" { command = "x", events = { "TICK_5", 5 } }`,
			`tend.lua:1: eventlistener "mon": events must be a list of event type names, got 5 in it`},
		{"buffer_size zero", `eventlistener "mon" { command = "x", events = { "TICK_5" }, buffer_size = 0 }`,
			`tend.lua:1: eventlistener "mon": buffer_size must be an integer >= 1, got 0`},
		{"buffer_size fraction", `eventlistener "mon" { command = "x", events = { "TICK_5" }, buffer_size = 1.5 }`,
			`tend.lua:1: eventlistener "mon": buffer_size must be an integer >= 1, got 1.5`},
		{"option typo", `eventlistener "mon" { command = "x", events = { "TICK_5" }, bufer_size = 2 }`,
			`tend.lua:1: eventlistener "mon": unknown option "bufer_size" (did you mean "buffer_size"?)`},
		{"events on a program", `program "web" { command = "x", events = { "TICK_5" } }`,
			`tend.lua:1: program "web": unknown option "events"`},
		{"no option table", `eventlistener "mon"`,
			`tend.lua:1: eventlistener "mon": has no option table: write eventlistener "mon" { command = "..." }`},
		{"same name as a program", "program \"mon\" { command = \"x\" }\neventlistener \"mon\" { command = \"x\", events = { \"EVENT\" } }",
			`tend.lua:2: eventlistener "mon": already declared at tend.lua:1`},
		{"in a group", "eventlistener \"mon\" { command = \"x\", events = { \"EVENT\" } }\ngroup \"g\" { programs = { \"mon\" } }",
			`tend.lua:2: group "g": eventlistener "mon" cannot be in a group: its pool is its own group`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := loadError(t, map[string]string{"tend.lua": tc.src})
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestEventListenerRuns loads a listener from Lua and runs it on a real
// engine: it must receive the events of another program.
func TestEventListenerRuns(t *testing.T) {
	dir := t.TempDir()
	out := dir + "/got"
	_, cfg := loadSource(t, `
eventlistener "mon" {
  command = { "/bin/sh", "-c", [[
    while :; do
      printf 'READY\n'
      IFS= read -r h || exit 0
      { printf '%%s\n' "$h"; head -c "${h##*len:}"; printf '\n'; } >> "$0"
      printf 'RESULT 2\nOK'
    done]], "`+out+`" },
  events = { "PROCESS_STATE_RUNNING" }, startsecs = 0,
}
program "web" { command = "sleep 100", startsecs = 0 }
`, Options{})
	e := newEngine(t)
	if _, err := e.Update(context.Background(), cfg.Specs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the RUNNING event of web", 10*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "eventname:PROCESS_STATE_RUNNING") && strings.Contains(string(b), "processname:web groupname:web from_state:STARTING pid:")
	})
}

func TestEventListenerExplicitPriority(t *testing.T) {
	_, cfg := loadSource(t, `eventlistener "mon" { command = "x", events = { "EVENT" }, priority = 5 }`, Options{})
	if s := cfg.Specs[0]; s.Priority != 5 || s.GroupPriority != 5 {
		t.Errorf("priority %d, group priority %d; want 5, 5", s.Priority, s.GroupPriority)
	}
}
