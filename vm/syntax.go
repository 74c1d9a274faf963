package vm

import (
	"bytes"
	"fmt"

	"github.com/yuin/gopher-lua/parse"
)

// syntaxError is a Lua syntax error worded with its file:line.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// newSyntaxError words a parse error of src. gopher-lua reports errors
// found at the end of the file without a line ("syntax error at EOF");
// those are located by scanning src: an unfinished string or comment is
// reported where it starts, a bracket or block left open where it was
// opened, anything else at the last line holding code.
func newSyntaxError(pe *parse.Error, src []byte) error {
	name := pe.Pos.Source
	sc := scanLua(src)
	switch {
	case pe.Message == "unterminated string" && sc.unfinished.line > 0:
		return &syntaxError{fmt.Sprintf("%s:%d: unfinished string (a quote is missing on this line)", name, sc.unfinished.line)}
	case pe.Pos.Line != parse.EOF:
		if o, ok := mismatch(pe, src); ok {
			return &syntaxError{fmt.Sprintf("%s:%d: '%s' expected (to close '%s' at line %d) near '%s'", name, pe.Pos.Line, o.close, o.what, o.line, pe.Token)}
		}
		return &syntaxError{fmt.Sprintf("%s:%d: %s near '%s'", name, pe.Pos.Line, pe.Message, pe.Token)}
	case sc.unfinished.line > 0:
		return &syntaxError{fmt.Sprintf("%s:%d: unfinished %s starting here (the file ends at line %d without its closing %s)",
			name, sc.unfinished.line, sc.unfinished.what, sc.lines, sc.unfinished.close)}
	case len(sc.open) > 0:
		o := sc.open[len(sc.open)-1]
		return &syntaxError{fmt.Sprintf("%s:%d: '%s' expected (to close '%s' at line %d) near end of file",
			name, o.line, o.close, o.what, o.line)}
	}
	return &syntaxError{fmt.Sprintf("%s:%d: syntax error at end of file near '%s'", name, max(sc.last, 1), pe.Token)}
}

// closers are the tokens that end an opener.
var closers = map[string]bool{")": true, "}": true, "]": true, "end": true, "until": true}

// mismatch finds the construct an error at a closing token leaves open:
// the innermost one, when the token does not close it ('function' at line
// 3, when '}' comes before its 'end').
func mismatch(pe *parse.Error, src []byte) (opener, bool) {
	if !closers[pe.Token] || pe.Pos.Column < 1 {
		return opener{}, false
	}
	off, line := 0, 1
	for off < len(src) && line < pe.Pos.Line {
		if src[off] == '\n' {
			line++
		}
		off++
	}
	off += pe.Pos.Column - 1
	if off > len(src) {
		return opener{}, false
	}
	sc := scanTokens(src[:off])
	if n := len(sc.open); n > 0 && sc.open[n-1].close != pe.Token {
		return sc.open[n-1], true
	}
	return opener{}, false
}

// opener is a bracket, block keyword, string or comment still open.
type opener struct {
	what, close string
	line        int
	awaitDo     bool // a while or for whose "do" has not been seen yet
}

// scan is what scanLua learns about a source.
type scan struct {
	open       []opener // brackets and blocks still open at the end, innermost last
	unfinished opener   // a string or comment the file ends inside, if any
	lines      int      // lines in the file
	last       int      // the last line holding a token
}

var blockEnd = map[string]string{"function": "end", "do": "end", "if": "end", "while": "end", "for": "end", "repeat": "until"}

// scanLua tokenizes Lua source just enough to pair brackets and blocks:
// names, strings, long brackets and comments. It trusts that the parser
// accepted everything before the end of the file, so closers simply pop.
func scanLua(src []byte) scan {
	s := scanTokens(src)
	s.lines = bytes.Count(src, []byte("\n")) + 1
	if len(src) > 0 && src[len(src)-1] == '\n' {
		s.lines--
	}
	return s
}

func scanTokens(src []byte) scan {
	var s scan
	line := 1
	pop := func() {
		if n := len(s.open); n > 0 {
			s.open = s.open[:n-1]
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			if lvl, ok := longBracket(src, i+2); ok {
				end, n := closeLong(src, i+2, lvl)
				if end < 0 {
					s.unfinished = opener{what: "long comment", close: "]" + eqs(lvl) + "]", line: line}
					return s
				}
				line += n
				i = end
				continue
			}
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		s.last = line
		switch {
		case c == '[':
			if lvl, ok := longBracket(src, i); ok {
				end, n := closeLong(src, i, lvl)
				if end < 0 {
					s.unfinished = opener{what: "long string", close: "]" + eqs(lvl) + "]", line: line}
					return s
				}
				line += n
				i = end
				continue
			}
			s.open = append(s.open, opener{what: "[", close: "]", line: line})
			i++
		case c == '(' || c == '{':
			s.open = append(s.open, opener{what: string(c), close: map[byte]string{'(': ")", '{': "}"}[c], line: line})
			i++
		case c == ')' || c == '}' || c == ']':
			pop()
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c && src[j] != '\n' {
				if src[j] == '\\' && j+1 < len(src) {
					if src[j+1] == '\n' {
						line++
					}
					j++
				}
				j++
			}
			if j >= len(src) || src[j] == '\n' {
				s.unfinished = opener{what: "string", close: string(c), line: line}
				return s
			}
			i = j + 1
		case isNameStart(c):
			j := i
			for j < len(src) && (isNameStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			word := string(src[i:j])
			i = j
			switch word {
			case "function", "if", "repeat":
				s.open = append(s.open, opener{what: word, close: blockEnd[word], line: line})
			case "while", "for":
				s.open = append(s.open, opener{what: word, close: "end", line: line, awaitDo: true})
			case "do":
				if n := len(s.open); n > 0 && s.open[n-1].awaitDo {
					s.open[n-1].awaitDo = false
				} else {
					s.open = append(s.open, opener{what: "do", close: "end", line: line})
				}
			case "end", "until":
				pop()
			}
		default:
			i++
		}
	}
	return s
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// longBracket reports whether src[i:] starts a long bracket "[==[" and
// its level (the number of '=').
func longBracket(src []byte, i int) (int, bool) {
	if i >= len(src) || src[i] != '[' {
		return 0, false
	}
	j := i + 1
	for j < len(src) && src[j] == '=' {
		j++
	}
	if j < len(src) && src[j] == '[' {
		return j - i - 1, true
	}
	return 0, false
}

// closeLong finds the end of the long bracket of level lvl opened at i:
// the index after its closer (-1 if none) and the newlines inside.
func closeLong(src []byte, i, lvl int) (int, int) {
	closer := []byte("]" + eqs(lvl) + "]")
	start := i + lvl + 2
	k := bytes.Index(src[start:], closer)
	if k < 0 {
		return -1, bytes.Count(src[start:], []byte("\n"))
	}
	return start + k + len(closer), bytes.Count(src[start:start+k], []byte("\n"))
}

func eqs(n int) string { return string(bytes.Repeat([]byte("="), n)) }
