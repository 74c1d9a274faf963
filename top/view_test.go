package top

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	r := func(c rune) key { return key{r: c} }
	s := func(k specialKey) key { return key{special: k} }
	tests := []struct {
		in   string
		want []key
	}{
		{"q", []key{r('q')}},
		{"/web\r", []key{r('/'), r('w'), r('e'), r('b'), s(keyEnter)}},
		{"\x1b[A\x1b[B\x1bOA\x1bOB", []key{s(keyUp), s(keyDown), s(keyUp), s(keyDown)}},
		{"\x1b[5~\x1b[6~\x1b[H\x1b[F\x1b[1~\x1b[4~", []key{s(keyPgUp), s(keyPgDn), s(keyHome), s(keyEnd), s(keyHome), s(keyEnd)}},
		{"\x1b", []key{s(keyEsc)}},
		{"\x1bq", []key{s(keyEsc), r('q')}}, // Esc then q, typed fast
		{"\x1b[1;5A", []key{s(keyUp)}},      // Ctrl-Up is an up
		{"\x1b[15~x", []key{r('x')}},        // F5 is dropped
		{"\x1b[", nil},                      // cut short
		{"\x03\x0c\x7f\x08\t", []key{s(keyCtrlC), s(keyCtrlL), s(keyBackspace), s(keyBackspace)}},
		{"é", []key{r('é')}},
	}
	for _, tt := range tests {
		if got := parseKeys([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("parseKeys(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// press feeds keys typed as text to v ("\r" is Enter, "\x1b" Esc) and
// returns the last outcome.
func press(v *view, text string) outcome {
	var out outcome
	for _, k := range parseKeys([]byte(text)) {
		out = v.handle(k, now)
	}
	return out
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name     string
		keys     string
		sort     SortKey
		reverse  bool
		filter   string
		editing  bool
		selected string
		out      outcome
	}{
		{name: "the first row", keys: "", selected: "burner"},
		{name: "down", keys: "jj", selected: "web:web_01"},
		{name: "down past the end", keys: "jjjjjjjj", selected: "idle"},
		{name: "up past the top", keys: "jkkk", selected: "burner"},
		{name: "arrows", keys: "\x1b[B\x1b[B\x1b[A", selected: "web:web_00"},
		{name: "last and first", keys: "G", selected: "idle"},
		{name: "sort by memory", keys: "m", sort: ByMem, selected: "burner"},
		{name: "sort by name, reversed", keys: "nrg", sort: ByName, reverse: true, selected: "web:web_01"},
		{name: "a new sort is not reversed", keys: "rc", sort: ByCPU, selected: "burner"},
		{name: "the selection follows its process", keys: "jm", sort: ByMem, selected: "web:web_00"},
		{name: "type a filter", keys: "/web", filter: "web", editing: true, selected: "web:web_00"},
		{name: "q in a filter is text", keys: "/q", filter: "q", editing: true, selected: "burner"}, // kept for when the filter goes
		{name: "Enter keeps the filter", keys: "/web_01\r", filter: "web_01", selected: "web:web_01"},
		{name: "backspace", keys: "/webx\x7f\r", filter: "web", selected: "web:web_00"},
		{name: "Esc drops the filter being typed", keys: "/web\x1b", selected: "burner"},
		{name: "Esc drops a kept filter", keys: "/web\rj\x1b", selected: "web:web_01"},
		{name: "select within the filter", keys: "/web\rj", filter: "web", selected: "web:web_01"},
		{name: "a filtered-out selection moves", keys: "jjj/web\r", filter: "web", selected: "web:web_01"},
		{name: "quit", keys: "q", selected: "burner", out: outcome{quit: true}},
		{name: "Ctrl-C quits while typing", keys: "/we\x03", filter: "we", editing: true, selected: "web:web_00", out: outcome{quit: true}},
		{name: "refresh", keys: " ", selected: "burner", out: outcome{refresh: true}},
		{name: "redraw", keys: "\x0c", selected: "burner", out: outcome{redraw: true}},
		{name: "stop", keys: "jS", selected: "web:web_00", out: outcome{act: verbStop, target: "web:web_00"}},
		{name: "restart", keys: "R", selected: "burner", out: outcome{act: verbRestart, target: "burner"}},
		{name: "start", keys: "GU", selected: "idle", out: outcome{act: verbStart, target: "idle"}},
		{name: "one action at a time", keys: "SjR", selected: "web:web_00"},
		{name: "no process, no action", keys: "/zzz\rS", filter: "zzz", selected: "burner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &view{procs: sample()}
			v.frame(frameOpts{now: now}) // the loop draws before the first key
			out := press(v, tt.keys)
			v.resolve(v.rows()) // as the next frame does
			if v.sort != tt.sort || v.reverse != tt.reverse || v.filter != tt.filter || v.editing != tt.editing ||
				v.selected != tt.selected || out != tt.out {
				t.Errorf("sort %v reverse %v filter %q editing %v selected %q outcome %+v\nwant sort %v reverse %v filter %q editing %v selected %q outcome %+v",
					v.sort, v.reverse, v.filter, v.editing, v.selected, out, tt.sort, tt.reverse, tt.filter, tt.editing, tt.selected, tt.out)
			}
		})
	}
}

func TestStatusLine(t *testing.T) {
	v := &view{procs: sample()}
	last := func() string {
		lines := v.frame(frameOpts{width: 120, height: 12, tty: true, now: now})
		return lines[len(lines)-1]
	}
	if got := last(); got != helpLine {
		t.Errorf("idle status line %q, want the keys", got)
	}
	press(v, "/bu")
	if got := last(); !strings.HasPrefix(got, "filter: bu_") {
		t.Errorf("status line while typing %q", got)
	}
	press(v, "\rS")
	if got := last(); got != "stop burner ..." {
		t.Errorf("status line during the stop %q", got)
	}
	press(v, "R")
	if got := last(); got != "stop burner ..." {
		t.Errorf("status line after a second action key %q, want the first still running", got)
	}
	v.busy = ""
	v.setMsg("burner: stopped", now)
	if got := last(); got != "burner: stopped" {
		t.Errorf("status line after the stop %q", got)
	}
	v.msgAt = now.Add(-msgFor - time.Second)
	if got := last(); got != helpLine {
		t.Errorf("status line long after the stop %q, want the keys back", got)
	}
}
