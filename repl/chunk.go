package repl

import (
	"errors"
	"strings"

	"github.com/yuin/gopher-lua/parse"
)

// Incomplete reports whether chunk is an unfinished Lua chunk that more
// input lines could complete: an open function, block, table, call or
// long string or comment. It parses with gopher-lua/parse only; no Lua
// state is involved. A chunk that parses, either as statements or as an
// expression (the REPL evaluates "return " .. chunk first), is complete,
// and so is one whose error is not at the end of input: it is sent as it
// is and the daemon reports the error.
//
// An unterminated short string ("abc) fails at the end of input too, but a
// short string cannot span lines, so it counts as complete (with an
// error) rather than swallowing the next line.
func Incomplete(chunk string) bool {
	stmtErr := parseErr(chunk)
	if stmtErr == nil {
		return false
	}
	exprErr := parseErr("return " + chunk)
	if exprErr == nil {
		return false
	}
	return atEOF(stmtErr) || atEOF(exprErr)
}

// parseErr parses src and returns the parse error, if any.
func parseErr(src string) error {
	_, err := parse.Parse(strings.NewReader(src), "=repl")
	return err
}

// atEOF reports whether err is a syntax error at the end of input that
// further lines could fix.
func atEOF(err error) bool {
	var pe *parse.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Pos.Line == parse.EOF && pe.Message != "unterminated string"
}

// historyEntries returns how a (possibly multi-line) chunk is stored in the
// history file, which holds one entry per line. A chunk without comments
// or long brackets is joined into one line, which is the same Lua; any
// other chunk is kept line by line, since joining would change its
// meaning.
func historyEntries(chunk string) []string {
	if !strings.Contains(chunk, "\n") {
		return []string{chunk}
	}
	lines := strings.Split(chunk, "\n")
	if strings.Contains(chunk, "--") || strings.Contains(chunk, "[[") || strings.Contains(chunk, "[=") {
		return lines
	}
	parts := make([]string, 0, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return []string{strings.Join(parts, " ")}
}
