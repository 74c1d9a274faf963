package supervisordconf

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// quote returns s as a Lua string literal. Bytes are kept as they are
// (Lua strings are bytes) except quotes, backslashes and control
// characters, which are escaped.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				// Three digits, so a following digit cannot join the escape.
				fmt.Fprintf(&b, `\%03d`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// identRE matches names that can be written bare as Lua table keys.
var identRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "goto": true, "if": true, "in": true,
	"local": true, "nil": true, "not": true, "or": true, "repeat": true, "return": true,
	"then": true, "true": true, "until": true, "while": true,
}

// key returns k as a Lua table key: bare when it is a name, ["k"] otherwise.
func key(k string) string {
	if identRE().MatchString(k) && !luaKeywords[k] {
		return k
	}
	return "[" + quote(k) + "]"
}

// comment returns text as Lua line comments, each line prefixed with
// indent and "-- " (the space keeps "--[[" from opening a block comment).
func comment(indent, text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		b.WriteString(strings.TrimRight(indent+"-- "+l, " "))
		b.WriteByte('\n')
	}
	return b.String()
}
