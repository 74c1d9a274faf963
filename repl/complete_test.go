package repl

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

var testNames = names{
	commands:  []string{"exit", "help", "quit", "restart", "start", "status", "stop", "tail"},
	processes: []string{"sleeper", "web:web_00", "web:web_01", "web:*"},
	globals:   []string{"print", "string", "string.format", "sv", "sv.restart", "sv.status"},
}

func TestCompleteAt(t *testing.T) {
	tests := []struct {
		before, tail string
		head         string
		items        []string
	}{
		{"sta", "", "", []string{"start", "status"}},
		{"stat", "", "", []string{"status "}},
		{"  res", "", "  ", []string{"restart "}},
		{"", "", "", append(append(slices.Clone(testNames.commands), testNames.globals...), luaKeywords...)},
		{"pr", "", "", []string{"print"}},
		{"wh", "", "", []string{"while"}},
		{"sv.", "", "", []string{"sv.restart", "sv.status"}},
		{"sv.st", "", "", []string{"sv.status"}},
		{"restart w", "", "restart ", []string{"web:*", "web:web_00", "web:web_01"}},
		{"restart web:web_01 sl", "", "restart web:web_01 ", []string{"sleeper "}},
		{"stop a", "", "stop ", []string{"all "}},
		{"help st", "", "help ", []string{"start", "status", "stop"}},
		{"help rest", "", "help ", []string{"restart "}},
		{"tail -f sl", " stderr", "tail -f ", []string{"sleeper "}},
		{"x = sv.sta", "", "x = ", []string{"sv.status"}},
		{"print(str", ")", "print(", []string{"string", "string.format"}},
		{`sv.restart("we`, `")`, `sv.restart("`, []string{"web:*", "web:web_00", "web:web_01"}},
		{`sv.restart('sl`, "", `sv.restart('`, []string{"sleeper"}},
		{`print("a\"b", sv.re`, "", `print("a\"b", `, []string{"sv.restart"}},
		{"x = ", "", "x = ", nil},
		{"print sl", "", "print ", nil}, // not a command: Lua, and sl is no global
		{"zzz", "", "", nil},
	}
	for _, tt := range tests {
		head, items, tail := completeAt(testNames, tt.before, tt.tail)
		slices.Sort(tt.items)
		tt.items = slices.Compact(tt.items)
		if head != tt.head || !slices.Equal(items, tt.items) || tail != tt.tail {
			t.Errorf("completeAt(%q, %q) = %q, %q, %q; want %q, %q, %q", tt.before, tt.tail, head, items, tail, tt.head, tt.items, tt.tail)
		}
	}
}

func TestCompleterSplitsAtCursor(t *testing.T) {
	c := newCompleter(func(context.Context) (names, error) { return testNames, nil })
	head, items, tail := c.complete("restart sl foo", len("restart sl"))
	if head != "restart " || !slices.Equal(items, []string{"sleeper "}) || tail != " foo" {
		t.Errorf("complete = %q, %q, %q", head, items, tail)
	}
}

func TestCompleterRefresh(t *testing.T) {
	calls := 0
	fail := false
	c := newCompleter(func(context.Context) (names, error) {
		calls++
		if fail {
			return names{}, errors.New("daemon down")
		}
		return names{processes: []string{"p" + string(rune('0'+calls))}}, nil
	})
	c.maxAge = time.Hour
	if got := c.names().processes; !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("first fetch: %q", got)
	}
	if got := c.names().processes; !slices.Equal(got, []string{"p1"}) || calls != 1 {
		t.Fatalf("fresh names were fetched again: %q after %d calls", got, calls)
	}
	c.maxAge = 0
	fail = true
	if got := c.names().processes; !slices.Equal(got, []string{"p1"}) || calls != 2 {
		t.Fatalf("a failed refresh must keep the last names: %q after %d calls", got, calls)
	}
	fail = false
	if got := c.names().processes; !slices.Equal(got, []string{"p3"}) {
		t.Fatalf("stale names were not refreshed: %q", got)
	}
}
