package stdlib

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/shlex"
	lua "github.com/yuin/gopher-lua"
)

// Split splits a command line into words the way tend reads a string
// command: POSIX-like quoting via google/shlex, after removing
// backslash-newline continuations. A '#' at the start of a word starts a
// comment that runs to the end of the line. No variables, globs or
// operators are expanded. It fails on unbalanced quotes and on an empty
// command.
func Split(s string) ([]string, error) {
	s = strings.ReplaceAll(s, "\\\r\n", "")
	s = strings.ReplaceAll(s, "\\\n", "")
	if words, ok := splitPlain(s); ok {
		return words, nil
	}
	words, err := shlex.Split(s)
	if err != nil {
		return nil, fmt.Errorf("split %q: %w", s, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("split %q: empty command", s)
	}
	return words, nil
}

// splitPlain splits a command holding no quote, backslash or '#' on
// shlex's whitespace, which is all shlex would do with it; ok is false when
// the command needs shlex. Most commands are plain, and shlex allocates a
// 4 KiB reader per call, which dominated loading a thousand programs.
func splitPlain(s string) (words []string, ok bool) {
	if strings.ContainsAny(s, "\"'\\#") || !utf8.ValidString(s) {
		return nil, false
	}
	isSpace := func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }
	words = strings.FieldsFunc(s, isSpace)
	return words, len(words) > 0
}

// Quote returns s quoted for a POSIX shell (and for Split): unchanged when
// it only holds safe characters, otherwise in single quotes.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%_-+=:,./", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// Join quotes each word and joins them with spaces.
func Join(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// loadShell is the loader of the shell module: split(s) and quote(s|list).
func loadShell(L *lua.LState) int {
	L.Push(newModule(L, map[string]lua.LGFunction{
		"split": func(L *lua.LState) int {
			words, err := Split(L.CheckString(1))
			if err != nil {
				L.RaiseError("shell.%v", err)
			}
			L.Push(stringList(L, words))
			return 1
		},
		"quote": func(L *lua.LState) int {
			switch v := L.CheckAny(1).(type) {
			case *lua.LTable:
				var words []string
				for i := 1; i <= v.Len(); i++ {
					words = append(words, lua.LVAsString(v.RawGetInt(i)))
				}
				L.Push(lua.LString(Join(words)))
			default:
				L.Push(lua.LString(Quote(L.CheckString(1))))
			}
			return 1
		},
	}))
	return 1
}
