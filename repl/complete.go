package repl

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// luaKeywords are offered wherever a Lua name may be completed.
var luaKeywords = []string{
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function",
	"if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
	"true", "until", "while",
}

// names is what completion chooses from, as last fetched from the daemon.
type names struct {
	commands, processes, globals []string
}

// completer completes ctl commands, process names and Lua globals. The
// names come from the daemon and are refreshed when older than maxAge, so
// a process added by update shows up; if the daemon does not answer, the
// last names are used.
type completer struct {
	fetch   func(ctx context.Context) (names, error)
	maxAge  time.Duration
	timeout time.Duration

	mu      sync.Mutex
	cached  names
	fetched time.Time
}

// newCompleter returns a completer over fetch.
func newCompleter(fetch func(ctx context.Context) (names, error)) *completer {
	return &completer{fetch: fetch, maxAge: 2 * time.Second, timeout: time.Second}
}

// names returns the current names, refreshing them when stale.
func (c *completer) names() names {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetch != nil && time.Since(c.fetched) > c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		n, err := c.fetch(ctx)
		cancel()
		c.fetched = time.Now() // a failed fetch is not retried on every key
		if err == nil {
			c.cached = n
		}
	}
	return c.cached
}

// complete is the liner word completer: it splits line at pos into the
// text before the word being completed, the candidates for that word and
// the text after the cursor.
func (c *completer) complete(line string, pos int) (head string, items []string, tail string) {
	rs := []rune(line)
	if pos < 0 || pos > len(rs) {
		pos = len(rs)
	}
	before, tail := string(rs[:pos]), string(rs[pos:])
	return completeAt(c.names(), before, tail)
}

// completeAt completes the last word of before. A first word is a ctl
// command or a Lua name; the arguments of a ctl command are process names;
// inside a Lua string, process names; elsewhere in Lua, globals and
// keywords. The argument of help is a command name. A single ctl
// candidate gets a trailing space.
func completeAt(n names, before, tail string) (string, []string, string) {
	if isCtlContext(n.commands, before) {
		i := strings.LastIndexAny(before, " \t") + 1
		head, word := before[:i], before[i:]
		isArg := strings.TrimSpace(head) != ""
		var pool []string
		switch {
		case isArg && strings.Fields(head)[0] == "help":
			pool = n.commands
		case isArg:
			pool = append(slices.Clone(n.processes), "all")
		default:
			pool = slices.Concat(n.commands, n.globals, luaKeywords)
		}
		items := matching(pool, word)
		if len(items) == 1 && (isArg || slices.Contains(n.commands, items[0])) {
			items[0] += " "
		}
		return head, items, tail
	}
	if q, ok := openQuote(before); ok {
		i := strings.LastIndexByte(before, q) + 1
		return before[:i], matching(n.processes, before[i:]), tail
	}
	i := strings.LastIndexFunc(before, func(r rune) bool { return !isNameRune(r) }) + 1
	head, word := before[:i], before[i:]
	if word == "" {
		return head, nil, tail
	}
	return head, matching(slices.Concat(n.globals, luaKeywords), word), tail
}

// isCtlContext reports whether before is the start of a ctl command line:
// a first word that may still become a command, or a known command
// followed by plain words.
func isCtlContext(commands []string, before string) bool {
	fields := strings.Fields(before)
	if len(fields) == 0 {
		return true
	}
	if !plainWords(before) {
		return false
	}
	if len(fields) == 1 && !strings.ContainsAny(before[len(before)-1:], " \t") {
		return true // still typing the first word
	}
	return slices.Contains(commands, fields[0])
}

// openQuote reports whether before ends inside a Lua short string, and
// which quote opened it.
func openQuote(before string) (byte, bool) {
	var q byte
	for i := 0; i < len(before); i++ {
		switch ch := before[i]; {
		case q != 0 && ch == '\\':
			i++
		case q != 0 && ch == q:
			q = 0
		case q == 0 && (ch == '"' || ch == '\''):
			q = ch
		}
	}
	return q, q != 0
}

// isNameRune reports whether r may appear in a dotted Lua name being
// completed (sv.status, string.format).
func isNameRune(r rune) bool {
	return r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// matching returns the sorted, distinct items of pool that start with
// prefix.
func matching(pool []string, prefix string) []string {
	var out []string
	for _, s := range pool {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
