package top

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// ANSI styles of the terminal frame.
const (
	styleBold    = "\x1b[1m"
	styleReverse = "\x1b[7m"
	styleReset   = "\x1b[0m"
)

// helpLine is the status line when there is nothing to report.
const helpLine = "q quit  c/m/n sort cpu/mem/name  r reverse  / filter  j/k select  R restart  S stop  U start"

// msgFor is how long an action's result stays on the status line.
const msgFor = 10 * time.Second

// frameOpts says how to lay out a frame.
type frameOpts struct {
	// width and height are the terminal's size; 0 means unbounded (a
	// snapshot printed to a pipe).
	width, height int
	tty           bool // styles, the selection and the status line
	now           time.Time
	address       string        // the daemon's URL
	interval      time.Duration // between refreshes
}

// column is one column of the table.
type column struct {
	title string
	right bool // numbers are aligned right
	// drop is the order in which columns go when the terminal is too
	// narrow (1 first); 0 never goes.
	drop int
	cell func(p control.ProcessUsage, now time.Time) string
}

// columns are the table's columns, in order. NAME is the one that shrinks.
var columns = []column{
	{title: "NAME", cell: func(p control.ProcessUsage, _ time.Time) string { return printable(namespec(p)) }},
	{title: "STATE", cell: func(p control.ProcessUsage, _ time.Time) string { return p.StateName }},
	{title: "PID", right: true, drop: 4, cell: func(p control.ProcessUsage, _ time.Time) string {
		return running(p, strconv.Itoa(p.Pid))
	}},
	{title: "UPTIME", right: true, drop: 3, cell: func(p control.ProcessUsage, _ time.Time) string {
		return running(p, uptime(time.Duration(p.Uptime)*time.Second))
	}},
	{title: "CPU%", right: true, cell: func(p control.ProcessUsage, _ time.Time) string {
		return running(p, strconv.FormatFloat(p.CPUPercent, 'f', 1, 64))
	}},
	{title: "MEM", right: true, cell: func(p control.ProcessUsage, _ time.Time) string {
		return running(p, humanize.IBytes(uint64(max(p.RSS, 0))))
	}},
	{title: "RESTARTS", right: true, drop: 2, cell: func(p control.ProcessUsage, _ time.Time) string {
		return strconv.Itoa(p.Restarts)
	}},
	{title: "LAST EXIT", drop: 1, cell: lastExit},
}

// nameMin is as narrow as NAME gets before other columns are dropped.
const nameMin = 16

// gap is the space between columns.
const gap = 2

// running is s for a process with a pid and "-" for one without.
func running(p control.ProcessUsage, s string) string {
	if p.Pid == 0 {
		return "-"
	}
	return s
}

// uptime is a duration as H:MM:SS, or Nd HH:MM past a day.
func uptime(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd %02d:%02d", int(d.Hours())/24, int(d.Hours())%24, int(d.Minutes())%60)
	}
	return supervisor.FormatUptime(d)
}

// lastExit is how the last run ended, "exit 1 15:04:05" or "SIGKILL Jan 02",
// with the date only when it was not today; "-" when no run ended.
func lastExit(p control.ProcessUsage, now time.Time) string {
	if p.Stop == 0 {
		return "-"
	}
	how := "exit " + strconv.Itoa(p.ExitStatus)
	if p.ExitSignal != "" {
		how = "SIG" + p.ExitSignal
	}
	at := time.Unix(p.Stop, 0).In(now.Location())
	if y, m, d := at.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return how + " " + at.Format("15:04:05")
	}
	return how + " " + at.Format("Jan 02")
}

// frame renders the view: a title, the totals, the table header, the rows
// that fit and, on a terminal, the status line on the last row. Each line
// fits the width; on a terminal there are exactly height lines.
func (v *view) frame(o frameOpts) []string {
	rows := v.rows()
	sel := v.resolve(rows)
	lines := []string{v.title(o), v.summary(len(rows))}

	cells := make([][]string, len(rows))
	for i, p := range rows {
		cells[i] = make([]string, len(columns))
		for c, col := range columns {
			cells[i][c] = col.cell(p, o.now)
		}
	}
	widths := layout(cells, o.width)
	header := formatRow(titles(), widths)
	if o.tty {
		header = styleBold + pad(header, o.width) + styleReset
	}
	lines = append(lines, header)

	// The rows that fit, scrolled to keep the selection in sight.
	first, n := 0, len(rows)
	if o.height > 0 {
		n = max(0, min(len(rows), o.height-len(lines)-1))
		v.page = n
		v.scrollTo(sel, n, len(rows))
		first = v.top
	}
	for i := first; i < first+n; i++ {
		line := formatRow(cells[i], widths)
		if o.tty && i == sel {
			line = styleReverse + pad(line, o.width) + styleReset
		}
		lines = append(lines, line)
	}
	if !o.tty {
		return clip(lines, o.width)
	}
	for len(lines) < o.height-1 {
		lines = append(lines, "")
	}
	lines = append(lines, v.status(o.now))
	if o.height > 0 && len(lines) > o.height {
		lines = lines[len(lines)-o.height:] // a terminal of a few rows: the status line wins
	}
	return clip(lines, o.width)
}

// scrollTo moves the first row shown so that row sel is among the n shown
// of total.
func (v *view) scrollTo(sel, n, total int) {
	if sel >= 0 && sel < v.top {
		v.top = sel
	}
	if sel >= v.top+n {
		v.top = sel - n + 1
	}
	v.top = min(max(v.top, 0), max(total-n, 0))
}

// title is the first line: what, where, when.
func (v *view) title(o frameOpts) string {
	s := "tend top - " + o.address
	if o.tty {
		s += " - every " + o.interval.String()
	}
	if !v.fetched.IsZero() {
		s += " - " + v.fetched.In(o.now.Location()).Format("15:04:05")
	}
	return s
}

// summary is the second line: the total CPU % and memory of every
// process, how many are in each state, the sort and the filter.
func (v *view) summary(shown int) string {
	counts := map[string]int{}
	var cpu float64
	var rss int64
	for _, p := range v.procs {
		counts[p.StateName]++
		cpu += p.CPUPercent
		rss += p.RSS
	}
	var states []string
	for _, s := range stateOrder {
		if n := counts[s]; n > 0 {
			states = append(states, fmt.Sprintf("%d %s", n, s))
		}
	}
	s := fmt.Sprintf("CPU %.1f%%  MEM %s  %d processes", cpu, humanize.IBytes(uint64(max(rss, 0))), len(v.procs))
	if len(states) > 0 {
		s += ": " + strings.Join(states, ", ")
	}
	s += "  sort " + v.sort.String()
	if v.reverse {
		s += " (reversed)"
	}
	if v.filter != "" {
		s += fmt.Sprintf("  filter %q: %d shown", v.filter, shown)
	}
	return s
}

// stateOrder is the order the summary counts states in: the live ones
// first.
var stateOrder = []string{"RUNNING", "STARTING", "BACKOFF", "STOPPING", "STOPPED", "EXITED", "FATAL", "UNKNOWN"}

// status is the last line: the filter being typed, an action under way or
// its result, or the keys.
func (v *view) status(now time.Time) string {
	switch {
	case v.editing:
		return "filter: " + printable(v.filter) + "_   (Enter keeps it, Esc clears it)"
	case v.busy != "":
		return printable(v.busy)
	case v.msg != "" && now.Sub(v.msgAt) < msgFor:
		return printable(v.msg)
	}
	return helpLine
}

// titles is the header row.
func titles() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.title
	}
	return out
}

// layout returns each column's width for the cells, 0 for a column left
// out, so that a row fits width (0: no limit). NAME shrinks to nameMin,
// then columns go in their drop order, then NAME shrinks further.
func layout(cells [][]string, width int) []int {
	natural := make([]int, len(columns))
	for i, c := range columns {
		natural[i] = utf8.RuneCountInString(c.title)
		for _, row := range cells {
			natural[i] = max(natural[i], utf8.RuneCountInString(row[i]))
		}
	}
	if width <= 0 {
		return natural
	}
	widths := append([]int(nil), natural...)
	for dropped := 0; ; dropped++ {
		others := 0
		for i := 1; i < len(widths); i++ {
			if widths[i] > 0 {
				others += widths[i] + gap
			}
		}
		avail := width - others
		if avail >= min(nameMin, natural[0]) {
			widths[0] = min(natural[0], avail)
			return widths
		}
		next := -1
		for i, c := range columns {
			if c.drop > 0 && widths[i] > 0 && (next < 0 || c.drop < columns[next].drop) {
				next = i
			}
		}
		if next < 0 {
			widths[0] = max(avail, 4) // the line is cut at the width
			return widths
		}
		widths[next] = 0
	}
}

// formatRow lays out one row in the widths, cutting cells that do not
// fit; the last column is not padded.
func formatRow(cells []string, widths []int) string {
	var b strings.Builder
	last := len(widths) - 1
	for last > 0 && widths[last] == 0 {
		last--
	}
	for i, w := range widths {
		if w == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(strings.Repeat(" ", gap))
		}
		s := cut(cells[i], w)
		fill := strings.Repeat(" ", w-utf8.RuneCountInString(s))
		switch {
		case columns[i].right:
			b.WriteString(fill + s)
		case i == last:
			b.WriteString(s)
		default:
			b.WriteString(s + fill)
		}
	}
	return b.String()
}

// printable replaces the control characters of s, which would move the
// cursor or start an escape sequence, with "?".
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}

// cut shortens s to w characters, marking the cut with a "~".
func cut(s string, w int) string {
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	if w <= 1 {
		return string(r[:max(w, 0)])
	}
	return string(r[:w-1]) + "~"
}

// pad fills s with spaces to width (a styled row spans the screen).
func pad(s string, width int) string {
	if n := width - utf8.RuneCountInString(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// clip cuts every line to width characters (0: no limit), not counting
// the escape sequences of styles.
func clip(lines []string, width int) []string {
	if width <= 0 {
		return lines
	}
	for i, l := range lines {
		lines[i] = clipLine(l, width)
	}
	return lines
}

// clipLine cuts one line to width visible characters.
func clipLine(l string, width int) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(l); {
		if l[i] == 0x1b { // a style: copy it whole, it takes no room
			j := strings.IndexByte(l[i:], 'm')
			if j < 0 {
				break
			}
			b.WriteString(l[i : i+j+1])
			i += j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(l[i:])
		if n < width {
			b.WriteRune(r)
			n++
		}
		i += size
	}
	return b.String()
}
