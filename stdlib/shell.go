package stdlib

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Split splits a command line into words exactly as supervisord does
// (Python's shlex.split: POSIX mode, no comments): whitespace is space,
// tab, CR and LF; single quotes keep everything; inside double quotes a
// backslash escapes only '"' and '\' and is kept before anything else;
// outside quotes a backslash escapes any character; ” is an empty word;
// '#' is an ordinary character. No variables, globs or operators are
// expanded. The one addition: a backslash-newline outside single quotes
// is a line continuation and is removed (shlex would keep the newline in
// a word), so a long Lua [[...]] command can be folded as in a shell. It
// fails on an unterminated quote, a trailing backslash and an empty
// command.
func Split(s string) ([]string, error) {
	if words, ok := splitPlain(s); ok {
		return words, nil
	}
	words, err := splitShlex(s)
	if err != nil {
		return nil, fmt.Errorf("split %q: %w", s, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("split %q: empty command", s)
	}
	return words, nil
}

// The errors of splitShlex, worded as Python's shlex words them.
var (
	errNoClosingQuote = errors.New("no closing quotation")
	errNoEscaped      = errors.New("no escaped character")
)

// splitShlex is shlex.split(s) of Python (posix=True, comments=False),
// plus backslash-newline continuations.
func splitShlex(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // a word has started (it may still be empty: '')
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case '\\':
			if n := continuation(s, i); n > 0 {
				i += n - 1
				continue
			}
			if i+1 >= len(s) {
				return nil, errNoEscaped
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errNoClosingQuote
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case '"':
			j, err := doubleQuoted(s, i+1, &word)
			if err != nil {
				return nil, err
			}
			i = j
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// doubleQuoted copies the inside of a double-quoted string starting at
// s[i] into word and returns the index of its closing quote.
func doubleQuoted(s string, i int, word *strings.Builder) (int, error) {
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i, nil
		case '\\':
			if n := continuation(s, i); n > 0 {
				i += n - 1
				continue
			}
			if i+1 >= len(s) {
				return 0, errNoEscaped
			}
			if next := s[i+1]; next == '"' || next == '\\' {
				word.WriteByte(next)
				i++
				continue
			}
			word.WriteByte(c)
		default:
			word.WriteByte(c)
		}
	}
	return 0, errNoClosingQuote
}

// continuation returns the length of a backslash-newline at s[i], or 0.
func continuation(s string, i int) int {
	switch {
	case strings.HasPrefix(s[i:], "\\\n"):
		return 2
	case strings.HasPrefix(s[i:], "\\\r\n"):
		return 3
	}
	return 0
}

// splitPlain splits a command holding no quote or backslash on shlex's
// whitespace, which is all shlex would do with it; ok is false when the
// command needs the full splitter. Most commands are plain.
func splitPlain(s string) (words []string, ok bool) {
	if strings.ContainsAny(s, "\"'\\") {
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
