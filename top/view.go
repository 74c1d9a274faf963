package top

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// SortKey is the column the table is sorted by.
type SortKey int

// The sort orders: CPU and memory put the biggest first, name the
// smallest.
const (
	ByCPU SortKey = iota
	ByMem
	ByName
)

// ParseSortKey reads a sort key as --sort takes it: cpu, mem (or memory,
// rss) or name.
func ParseSortKey(s string) (SortKey, error) {
	switch strings.ToLower(s) {
	case "cpu":
		return ByCPU, nil
	case "mem", "memory", "rss":
		return ByMem, nil
	case "name":
		return ByName, nil
	}
	return 0, fmt.Errorf("unknown sort key %q (want cpu, mem or name)", s)
}

// String names the key as the header shows it.
func (k SortKey) String() string {
	return [...]string{"cpu", "mem", "name"}[k]
}

// verb is an operation a key asks for on the selected process; its text
// is the ctl command that does it.
type verb string

const (
	verbStart   verb = "start"
	verbStop    verb = "stop"
	verbRestart verb = "restart"
)

// outcome is what a key press asks of the loop beyond changing the view.
type outcome struct {
	quit    bool
	refresh bool   // fetch new figures now
	redraw  bool   // repaint the whole screen (Ctrl-L)
	act     verb   // run this on target
	target  string // the namespec act applies to
}

// view is what the screen shows and how: the figures of the last fetch,
// the sort, the filter, the selection and the status line. It is pure
// state; the loop feeds it keys and figures and renders it.
type view struct {
	procs   []control.ProcessUsage // as last fetched
	fetched time.Time              // when
	sort    SortKey
	reverse bool

	filter  string
	editing bool // the status line is the filter being typed

	selected string // namespec of the selected row; "" before any
	sel      int    // its index among the shown rows, kept when it goes away
	top      int    // the first row on screen
	page     int    // rows on screen at the last render, for PgUp/PgDn

	msg   string    // the last action's result or a fetch error
	msgAt time.Time // when msg was set
	busy  string    // the action in flight, shown until it answers
}

// rows returns the processes the filter keeps, in the view's order.
func (v *view) rows() []control.ProcessUsage {
	out := make([]control.ProcessUsage, 0, len(v.procs))
	f := strings.ToLower(v.filter)
	for _, p := range v.procs {
		if f == "" || strings.Contains(strings.ToLower(namespec(p)), f) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b control.ProcessUsage) int {
		var c int
		switch v.sort {
		case ByCPU:
			c = cmp.Or(live(a, b), cmp.Compare(b.CPUPercent, a.CPUPercent))
		case ByMem:
			c = cmp.Or(live(a, b), cmp.Compare(b.RSS, a.RSS))
		}
		if v.reverse {
			c = -c
		}
		if c == 0 {
			// Ties (and the name sort) go by name, so that equal rows
			// do not swap places between refreshes.
			c = cmp.Compare(namespec(a), namespec(b))
			if v.reverse && v.sort == ByName {
				c = -c
			}
		}
		return c
	})
	return out
}

// live orders processes with a pid before those without, which have no
// figures to sort by.
func live(a, b control.ProcessUsage) int {
	rank := func(p control.ProcessUsage) int {
		if p.Pid != 0 {
			return 0
		}
		return 1
	}
	return cmp.Compare(rank(a), rank(b))
}

// resolve finds the selected row among rows and returns its index, -1 when
// there are no rows. A selection that went away (filtered out, removed)
// moves to the row now at its place.
func (v *view) resolve(rows []control.ProcessUsage) int {
	if len(rows) == 0 {
		return -1
	}
	i := slices.IndexFunc(rows, func(p control.ProcessUsage) bool { return namespec(p) == v.selected })
	if i < 0 {
		i = min(max(v.sel, 0), len(rows)-1)
	}
	v.sel, v.selected = i, namespec(rows[i])
	return i
}

// move moves the selection by delta rows, staying within the table.
func (v *view) move(delta int) {
	rows := v.rows()
	i := v.resolve(rows)
	if i < 0 {
		return
	}
	i = min(max(i+delta, 0), len(rows)-1)
	v.sel, v.selected = i, namespec(rows[i])
}

// setMsg shows s on the status line.
func (v *view) setMsg(s string, now time.Time) { v.msg, v.msgAt = s, now }

// handle applies one key and says what else it asks for.
func (v *view) handle(k key, now time.Time) outcome {
	if k.special == keyCtrlC || k.special == keyEOF {
		return outcome{quit: true}
	}
	if v.editing {
		return v.editFilter(k)
	}
	page := max(v.page, 1)
	switch k.special {
	case keyUp:
		v.move(-1)
	case keyDown:
		v.move(1)
	case keyPgUp:
		v.move(-page)
	case keyPgDn:
		v.move(page)
	case keyHome:
		v.move(-len(v.procs))
	case keyEnd:
		v.move(len(v.procs))
	case keyEsc:
		v.filter = ""
	case keyCtrlL:
		return outcome{redraw: true}
	case keyNone:
		return v.command(k.r, now)
	}
	return outcome{}
}

// command applies a plain key of the table (not typing a filter).
func (v *view) command(r rune, now time.Time) outcome {
	switch r {
	case 'q':
		return outcome{quit: true}
	case 'c':
		v.sort, v.reverse = ByCPU, false
	case 'm':
		v.sort, v.reverse = ByMem, false
	case 'n':
		v.sort, v.reverse = ByName, false
	case 'r':
		v.reverse = !v.reverse
	case '/':
		v.editing = true
	case 'k':
		v.move(-1)
	case 'j':
		v.move(1)
	case 'g':
		v.move(-len(v.procs))
	case 'G':
		v.move(len(v.procs))
	case ' ':
		return outcome{refresh: true}
	case 'R':
		return v.act(verbRestart, now)
	case 'S':
		return v.act(verbStop, now)
	case 'U':
		return v.act(verbStart, now)
	}
	return outcome{}
}

// act asks for an operation on the selected process, unless one is still
// running (the daemon may take stopwaitsecs to stop a process).
func (v *view) act(what verb, now time.Time) outcome {
	i := v.resolve(v.rows())
	switch {
	case i < 0:
		v.setMsg("no process selected", now)
		return outcome{}
	case v.busy != "":
		v.setMsg("wait: "+v.busy, now)
		return outcome{}
	}
	v.busy = fmt.Sprintf("%s %s ...", what, v.selected)
	return outcome{act: what, target: v.selected}
}

// editFilter applies a key while the filter is typed: Enter keeps it, Esc
// drops it, and the table follows each keystroke.
func (v *view) editFilter(k key) outcome {
	switch k.special {
	case keyEnter:
		v.editing = false
	case keyEsc:
		v.editing, v.filter = false, ""
	case keyBackspace:
		if r := []rune(v.filter); len(r) > 0 {
			v.filter = string(r[:len(r)-1])
		}
	case keyUp:
		v.move(-1)
	case keyDown:
		v.move(1)
	case keyNone:
		v.filter += string(k.r)
	}
	return outcome{}
}

// namespec is the name ctl commands take for p.
func namespec(p control.ProcessUsage) string { return supervisor.Namespec(p.Group, p.Name) }
