package vm

import (
	"slices"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor"
)

func TestRequiresDecode(t *testing.T) {
	_, cfg := loadSource(t, `
program "db" { command = "x", ready = { tcp = "127.0.0.1:5432" } }
program "cache" { command = "x" }
program "migrate" { command = "x", requires = { "db" } }
program "web" { command = "x", numprocs = 2, process_name = "web_%(process_num)d",
  requires = { db = "ready", migrate = "completed_successfully", "cache" } }
program "w" { command = "x", numprocs = 2, process_name = "w_%(process_num)d",
  requires = function(p) return { ["web:web_" .. p.num] = "started" } end }
`, Options{})
	got := map[string]string{}
	for _, s := range cfg.Specs {
		got[s.Namespec()] = s.Requires.String()
	}
	want := map[string]string{
		"db": "", "cache": "", "migrate": "db",
		"web:web_0": "cache,db=ready,migrate=completed_successfully", "web:web_1": "cache,db=ready,migrate=completed_successfully",
		"w:w_0": "web:web_0=started", "w:w_1": "web:web_1=started",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s requires %q, want %q", k, got[k], w)
		}
	}
}

// TestRequiresErrorsAtTheirLine: an unknown name, a cycle or a bad
// condition is a config error at the line of the requires option (of the
// name, in the table form).
func TestRequiresErrorsAtTheirLine(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown name", "program \"db\" { command = \"x\" }\nprogram \"web\" {\n  command = \"x\",\n  requires = {\n    dbb = \"ready\",\n  },\n}\n",
			[]string{`tend.lua:5: program "web": requires: "dbb" is no program, group or process (did you mean "db"?)`}},
		{"list form", "program \"web\" {\n  command = \"x\",\n  requires = { \"nosuch\" },\n}\n",
			[]string{`tend.lua:3: program "web": requires: "nosuch" is no program, group or process`}},
		{"cycle", "program \"a\" {\n  command = \"x\",\n  requires = { b = \"started\" },\n}\nprogram \"b\" {\n  command = \"x\",\n  requires = { \"c\" },\n}\nprogram \"c\" { command = \"x\",\n  requires = { \"a\" } }\n",
			[]string{`tend.lua:3: program "a": requires: cycle: a -> b -> c -> a`}},
		{"itself through its group", "program \"a\" { command = \"x\" }\nprogram \"b\" {\n  command = \"x\",\n  requires = { \"g\" },\n}\ngroup \"g\" { programs = { \"a\", \"b\" } }\n",
			[]string{`tend.lua:4: program "b": requires: cycle: g:b -> g:b`}},
		{"bad condition", "program \"db\" { command = \"x\" }\nprogram \"web\" {\n  command = \"x\",\n  requires = { db = \"redy\" },\n}\n",
			[]string{`tend.lua:4: program "web": requires.db must be one of started, running, ready, completed, completed_successfully, not "redy" (did you mean "ready"?)`}},
		{"not a table", "program \"web\" {\n  command = \"x\",\n  requires = \"db\",\n}\n",
			[]string{`tend.lua:3: program "web": requires must be a table`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadError(t, map[string]string{"tend.lua": tt.src})
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestCheckPrintsStartOrder(t *testing.T) {
	_, cfg := loadSource(t, `
program "web" { command = "x", priority = 1, requires = { db = "ready", migrate = "completed_successfully" } }
program "migrate" { command = "x", requires = { "db" } }
program "db" { command = "x", priority = 50, ready = { tcp = "127.0.0.1:5432" } }
program "cron" { command = "x", priority = 10 }
`, Options{})
	var b strings.Builder
	if err := FormatCheck(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	i := strings.Index(out, "\nstart order")
	if i < 0 {
		t.Fatalf("no start order in:\n%s", out)
	}
	want := []string{
		"   1  cron",
		"   1  db",
		"   2  migrate  after db (ready)",
		"   3  web      after db (ready), migrate (completed_successfully)",
	}
	lines := strings.Split(strings.TrimSpace(out[i:]), "\n")[1:]
	if !slices.Equal(lines, want) {
		t.Errorf("start order:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "requires=db=ready,migrate=completed_successfully") {
		t.Errorf("web's requires option not shown:\n%s", out)
	}
}

// TestRequiresRunsInOrder loads a config into a real engine: web waits
// for db's readiness (a log line) and for migrate to complete.
func TestRequiresRunsInOrder(t *testing.T) {
	_, cfg := loadSource(t, `
program "db" { command = { "sh", "-c", "sleep 0.3; echo accepting; exec sleep 1000" }, startsecs = 0,
  ready = { log = "accepting" } }
program "migrate" { command = "true", startsecs = 0, autorestart = false, requires = { "db" } }
program "web" { command = "sleep 1000", startsecs = 0, requires = { db = "ready", migrate = "completed_successfully" } }
`, Options{})
	e := newEngine(t)
	if _, err := e.Update(t.Context(), cfg.Specs); err != nil {
		t.Fatal(err)
	}
	e.WaitState("web", supervisor.Running)
	var order []string
	for _, c := range e.History() {
		order = append(order, c.Process+" "+c.To.String())
	}
	pos := func(s string) int { return slices.Index(order, s) }
	if !(pos("db RUNNING") < pos("migrate STARTING") && pos("migrate EXITED") < pos("web STARTING")) {
		t.Errorf("history out of order: %v", order)
	}
}
