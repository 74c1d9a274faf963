package vm

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// ConfigError is one mistake in a configuration, located at the
// declaration it belongs to: "tend.lua:12: program "web": startsecs must
// be a number >= 0, got "soon"".
type ConfigError struct {
	Pos  string // "file:line": of the option when it is known, else of the declaration
	What string // `program "web"`, `group "g"`, "daemon", or ""
	Msg  string
	// Option is the option the mistake is in ("socket.mode" for a field
	// of a sub-table), or "" when it is about the whole declaration.
	Option string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.Pos != "" {
		b.WriteString(e.Pos + ": ")
	}
	if e.What != "" {
		b.WriteString(e.What + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// luaMessage returns the message of an error from gopher-lua without its
// traceback, with syntax errors rewritten to "file:line: message near 'x'".
func luaMessage(err error) string {
	var pe *parse.Error
	if errors.As(err, &pe) {
		return syntaxMessage(pe)
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if errors.As(ae.Cause, &pe) {
			return syntaxMessage(pe)
		}
		if ae.Object != nil {
			msg := strings.TrimSpace(ae.Object.String())
			if !leadingPos().MatchString(msg) {
				// error(x, 0), error(nil), error({}): no position in the
				// message; take the innermost Lua frame of the traceback.
				if m := traceLine().FindStringSubmatch(ae.StackTrace); m != nil {
					msg = m[1] + ": " + msg
				}
			}
			return msg
		}
	}
	return err.Error()
}

// traceLine matches the first Lua frame ("\ttend.lua:3: in ...") of a
// gopher-lua traceback; Go frames are "[G]".
var traceLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\t([^\s\[][^:\n]*:\d+):`) })

func syntaxMessage(pe *parse.Error) string {
	if pe.Pos.Line == parse.EOF {
		return fmt.Sprintf("%s: %s at end of file", pe.Pos.Source, pe.Message)
	}
	return fmt.Sprintf("%s:%d: %s near '%s'", pe.Pos.Source, pe.Pos.Line, pe.Message, pe.Token)
}

// describe renders a Lua value for an error message: strings quoted,
// numbers and booleans as written, other types by name.
func describe(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return fmt.Sprintf("%q", string(x))
	case lua.LNumber, lua.LBool:
		return x.String()
	case *lua.LNilType:
		return "nil"
	case *lua.LTable:
		return "a table"
	case *lua.LFunction:
		return "a function"
	}
	return "a " + v.Type().String()
}

// suggest returns the candidate closest to s by edit distance, if it is
// close enough to be a plausible typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownOption builds the message for an option name that does not exist.
func unknownOption(name string, known []string) string {
	msg := fmt.Sprintf("unknown option %q", name)
	if s := suggest(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}
