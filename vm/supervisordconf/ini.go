// Package supervisordconf reads supervisord's INI config and writes the
// equivalent tend Lua config (tend import). It writes text only: it does
// not run Lua, so it does not import gopher-lua.
package supervisordconf

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// SyntaxError is a line of a supervisord config that is neither a section
// header, an option nor a comment.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// option is one key = value of a section. Continuation lines are joined
// to the value with "\n", as Python's configparser does.
type option struct {
	key   string // lower case
	value string
	line  int
	file  string // the file it was read from (an [include]d one, in memory)
}

// section is one [name] of the file with its options in file order. A
// section named twice is merged, and a repeated option keeps its last
// value (supervisord's parser is not strict).
type section struct {
	name  string
	line  int
	file  string // the file of its header
	opts  []*option
	byKey map[string]*option
	raw   []string // the section's lines as written, for comment blocks
}

func (s *section) get(key string) (*option, bool) {
	o, ok := s.byKey[key]
	return o, ok
}

// iniFile is a parsed supervisord config: its sections in file order.
type iniFile struct {
	name     string
	sections []*section
}

// defaults returns the [DEFAULT] section, or nil.
func (f *iniFile) defaults() *section {
	for _, s := range f.sections {
		if s.name == "DEFAULT" {
			return s
		}
	}
	return nil
}

// sectionRE is configparser's section header: '[' anything ']'.
var sectionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\[(.+)\]`) })

// parseINI parses src the way supervisord's RawConfigParser subclass
// does: '=' or ':' separates a key from its value; lines starting with
// ';' or '#' are comments, and so is the rest of a line from a ';' or '#'
// that follows whitespace; a line indented deeper than its option's line
// continues the value; keys are case-insensitive.
func parseINI(name, src string) (*iniFile, error) {
	p := &iniParser{f: &iniFile{name: name}, byName: map[string]*section{}}
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	for i, line := range lines {
		if err := p.line(i+1, line); err != nil {
			return nil, err
		}
	}
	p.f.trimValues()
	return p.f, nil
}

// iniParser is the state of parseINI between lines.
type iniParser struct {
	f      *iniFile
	byName map[string]*section
	cur    *section
	opt    *option // the option a continuation line would extend
	indent int     // indentation of opt's line
}

func (p *iniParser) line(n int, line string) error {
	if p.cur != nil {
		p.cur.raw = append(p.cur.raw, line)
	}
	value, commented := stripComment(line)
	if value == "" {
		// A blank line inside a value is part of it (configparser's
		// empty_lines_in_values); a comment line is not.
		if !commented && p.opt != nil {
			p.opt.value += "\n"
		}
		return nil
	}
	indent := len(line) - len(strings.TrimLeft(line, " \t"))
	if p.opt != nil && indent > p.indent {
		p.opt.value += "\n" + value
		return nil
	}
	p.indent = indent
	if m := sectionRE().FindStringSubmatch(value); m != nil {
		p.section(n, m[1], line)
		return nil
	}
	if p.cur == nil {
		return &SyntaxError{File: p.f.name, Line: n, Msg: fmt.Sprintf("no [section] header before %q", strings.TrimSpace(line))}
	}
	key, val, ok := splitOption(value)
	if !ok {
		return &SyntaxError{File: p.f.name, Line: n, Msg: fmt.Sprintf("in [%s]: not a section, an option (key = value) or a comment: %q", p.cur.name, strings.TrimSpace(line))}
	}
	p.set(n, key, val)
	return nil
}

// section starts (or, for a repeated name, resumes) a section.
func (p *iniParser) section(n int, name, line string) {
	p.opt = nil
	if p.cur != nil {
		// line() filed this header under the section it ends.
		p.cur.raw = p.cur.raw[:len(p.cur.raw)-1]
	}
	if s, ok := p.byName[name]; ok {
		p.cur = s
		s.raw = append(s.raw, line)
		return
	}
	s := &section{name: name, line: n, file: p.f.name, byKey: map[string]*option{}, raw: []string{line}}
	p.byName[name] = s
	p.f.sections = append(p.f.sections, s)
	p.cur = s
}

// set records key = val in the current section; a repeated key keeps its
// place and takes the new value and line.
func (p *iniParser) set(n int, key, val string) {
	if o, ok := p.cur.byKey[key]; ok {
		o.value, o.line, o.file = val, n, p.f.name
		p.opt = o
		return
	}
	o := &option{key: key, value: val, line: n, file: p.f.name}
	p.cur.opts = append(p.cur.opts, o)
	p.cur.byKey[key] = o
	p.opt = o
}

// stripComment removes a whole-line comment or an inline one (';' or '#'
// at the start or after whitespace) and trims the rest. commented reports
// whether a comment was removed.
func stripComment(line string) (value string, commented bool) {
	t := strings.TrimSpace(line)
	if strings.HasPrefix(t, ";") || strings.HasPrefix(t, "#") {
		return "", true
	}
	for i := 1; i < len(line); i++ {
		if (line[i] == ';' || line[i] == '#') && (line[i-1] == ' ' || line[i-1] == '\t') {
			return strings.TrimSpace(line[:i]), true
		}
	}
	return t, false
}

// splitOption splits "key = value" or "key: value" at the first '=' or
// ':'. The key is lower-cased, as configparser's optionxform does.
func splitOption(s string) (key, value string, ok bool) {
	i := strings.IndexAny(s, "=:")
	if i <= 0 {
		return "", "", false
	}
	key = strings.ToLower(strings.TrimSpace(s[:i]))
	if key == "" {
		return "", "", false
	}
	return key, strings.TrimSpace(s[i+1:]), true
}

// trimValues drops the trailing blank lines a value collected, as
// configparser does when it joins a value's lines.
func (f *iniFile) trimValues() {
	for _, s := range f.sections {
		for _, o := range s.opts {
			o.value = strings.TrimRight(o.value, "\n")
		}
		for len(s.raw) > 0 && strings.TrimSpace(s.raw[len(s.raw)-1]) == "" {
			s.raw = s.raw[:len(s.raw)-1]
		}
	}
}
