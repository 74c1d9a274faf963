package supervisordconf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tend-sh/tend/supervisor"
)

// Pos is a line of a supervisord config file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File // an option from the command line
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Config is a supervisord config read in memory (Read): the Lua that
// tend import would write for it, with each Lua line mapped back to the
// INI line it came from, so that tend can run the INI file directly.
type Config struct {
	Lua string
	// Lines[i] is the INI line that Lua line i+1 was written for; lines
	// written for no INI line (headers, blank lines, comments) take the
	// position of the nearest marked line above, or of line 1 of the file.
	Lines    []Pos
	Files    []string  // the INI files read: the main one, then the included ones
	Warnings []Warning // what tend runs differently from supervisord
}

// At returns the INI position of Lua line n (from 1).
func (c *Config) At(n int) (Pos, bool) {
	if n < 1 || n > len(c.Lines) {
		return Pos{}, false
	}
	return c.Lines[n-1], true
}

// IsINI reports whether src is a supervisord (INI) config rather than a
// Lua one, by its first line that is not blank or a comment: an INI file
// starts with a [section] header, which no Lua statement can start with
// ('[' opens a long string only when followed by '[' or '=').
func IsINI(src []byte) bool {
	for _, line := range bytes.Split(src, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == ';' || t[0] == '#' {
			continue // Lua has no ';' or '#' comments (bar a first-line #!)
		}
		if t[0] != '[' || len(t) < 3 {
			return false
		}
		return t[1] != '[' && t[1] != '=' && bytes.IndexByte(t, ']') > 1
	}
	return false
}

// Read reads the supervisord config at path the way supervisord does and
// converts it to Lua in memory: the files its [include] section names
// (globs relative to path's folder, in sorted order, a glob matching
// nothing being a warning) are merged in, and %(here)s means the folder
// of the file each value is written in. overrides are [supervisord]
// options given on supervisord's command line; they win over the file's.
// A syntax error in any file is a *SyntaxError with that file's line.
func Read(path string, overrides map[string]string) (*Config, error) {
	main, err := readINI(path)
	if err != nil {
		return nil, err
	}
	here, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("folder of %s: %w", path, err)
	}
	c := &converter{file: path, here: here, inline: true}
	files := []string{path}
	if inc := main.section("include"); inc != nil {
		included, err := c.includes(path, inc)
		if err != nil {
			return nil, err
		}
		for _, f := range included {
			c.merge(main, f)
			files = append(files, f.name)
		}
	}
	applyOverrides(main, overrides)
	lua := c.convert(main, "")
	text, lines := unmark(lua, c.positions, Pos{File: path, Line: 1})
	return &Config{Lua: text, Lines: lines, Files: files, Warnings: c.warnings}, nil
}

// readINI reads and parses one file, with %(here)s replaced by the file's
// folder as supervisord's expand_here does after reading each file.
func readINI(path string) (*iniFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read supervisord config: %w", err)
	}
	f, err := parseINI(path, string(src))
	if err != nil {
		return nil, err
	}
	here, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("folder of %s: %w", path, err)
	}
	for _, s := range f.sections {
		for _, o := range s.opts {
			o.value = strings.ReplaceAll(o.value, "%(here)s", here)
		}
	}
	return f, nil
}

// section returns the section called name, or nil.
func (f *iniFile) section(name string) *section {
	for _, s := range f.sections {
		if s.name == name {
			return s
		}
	}
	return nil
}

// includes reads the files [include] files= names, relative to the main
// file's folder, with supervisord's expansions.
func (c *converter) includes(path string, inc *section) ([]*iniFile, error) {
	o, ok := inc.get("files")
	if !ok {
		return nil, &SyntaxError{File: inc.file, Line: inc.line, Msg: ".ini file has [include] section, but no files setting"}
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("folder of %s: %w", path, err)
	}
	globs, err := supervisor.Expand(o.value, expansions(base))
	if err != nil {
		return nil, &SyntaxError{File: o.file, Line: o.line, Msg: "[include] files: " + err.Error()}
	}
	var out []*iniFile
	for _, g := range strings.Fields(globs) {
		if !filepath.IsAbs(g) {
			g = filepath.Join(base, g)
		}
		names, err := filepath.Glob(g)
		if err != nil {
			return nil, &SyntaxError{File: o.file, Line: o.line, Msg: fmt.Sprintf("[include] files: bad pattern %q: %v", g, err)}
		}
		if len(names) == 0 {
			c.warnings = append(c.warnings, Warning{File: o.file, Line: o.line, Msg: fmt.Sprintf("No file matches via include %q", g)})
			continue
		}
		sort.Strings(names)
		for _, n := range names {
			f, err := readINI(n)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// expansions are what supervisord expands in [include] files=.
func expansions(here string) map[string]any {
	vars := map[string]any{"here": here}
	if host, err := os.Hostname(); err == nil {
		vars["host_node_name"] = host
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars["ENV_"+k] = v
		}
	}
	return vars
}

// merge adds an included file's sections to f as configparser does: a
// new section is appended, a repeated one gets the options (a repeated
// option the new value). An [include] inside an included file is ignored,
// as supervisord reads files= of the main file only.
func (c *converter) merge(f, inc *iniFile) {
	for _, s := range inc.sections {
		if s.name == "include" {
			c.warnings = append(c.warnings, Warning{File: s.file, Line: s.line, Msg: "[include] in an included file is ignored (supervisord reads only the main file's)"})
			continue
		}
		prev := f.section(s.name)
		if prev == nil {
			f.sections = append(f.sections, s)
			continue
		}
		for _, o := range s.opts {
			if old, ok := prev.byKey[o.key]; ok {
				*old = *o
				continue
			}
			prev.opts = append(prev.opts, o)
			prev.byKey[o.key] = o
		}
	}
}

// commandLine is the "file" of options given on supervisord's command line.
const commandLine = "supervisord's command line"

// applyOverrides sets [supervisord] options from the command line.
func applyOverrides(f *iniFile, overrides map[string]string) {
	if len(overrides) == 0 {
		return
	}
	s := f.section("supervisord")
	if s == nil {
		s = &section{name: "supervisord", file: f.name, byKey: map[string]*option{}}
		f.sections = append([]*section{s}, f.sections...)
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o := &option{key: k, value: overrides[k], file: commandLine}
		if old, ok := s.byKey[k]; ok {
			*old = *o
			continue
		}
		s.opts = append(s.opts, o)
		s.byKey[k] = o
	}
}

// mark returns a marker that locates the Lua line it starts at file:line
// of the INI source, or "" when the converter does not map lines. The
// marker is a control character, a number and another control character:
// quote escapes control characters, so no value can contain one.
func (c *converter) mark(file string, line int) string {
	if !c.inline {
		return ""
	}
	c.positions = append(c.positions, Pos{File: file, Line: line})
	return "\x01" + strconv.Itoa(len(c.positions)-1) + "\x02"
}

// unmark removes the markers from text and returns, for each of its
// lines, the position it was marked with, or the one above it (first for
// the lines before any).
func unmark(text string, positions []Pos, first Pos) (string, []Pos) {
	lines := strings.Split(text, "\n")
	out := make([]Pos, len(lines))
	cur := first
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(l, "\x01"); ok {
			if n, tail, ok := strings.Cut(rest, "\x02"); ok {
				if k, err := strconv.Atoi(n); err == nil && k < len(positions) {
					cur = positions[k]
					lines[i] = tail
				}
			}
		}
		out[i] = cur
	}
	return strings.Join(lines, "\n"), out
}

// Section returns the options of one section of the supervisord config
// at path (the main file only: supervisorctl reads no [include]), each
// value expanded as supervisorctl expands it (%(here)s, %(ENV_X)s). found
// is false when the file has no such section.
func Section(path, name string) (opts map[string]string, found bool, err error) {
	f, err := readINI(path)
	if err != nil {
		return nil, false, err
	}
	s := f.section(name)
	if s == nil {
		return nil, false, nil
	}
	here, _ := filepath.Abs(filepath.Dir(path)) // readINI resolved it already
	vars := expansions(here)
	opts = map[string]string{}
	for _, o := range s.opts {
		v, err := supervisor.Expand(o.value, vars)
		if err != nil {
			return nil, true, &SyntaxError{File: o.file, Line: o.line, Msg: fmt.Sprintf("[%s] %s: %v", name, o.key, err)}
		}
		opts[o.key] = v
	}
	return opts, true, nil
}

// Client is what a client needs from a supervisord config: where the
// daemon listens and the [supervisorctl] settings.
type Client struct {
	Socket string // [unix_http_server] file=, "" when absent
	// HTTP is [inet_http_server]: Listen is its port= as a Go listen
	// address; nil when absent.
	HTTP *ClientHTTP
	// Ctl is [supervisorctl], read as supervisorctl reads it; nil when absent.
	Ctl *Ctl
}

// ClientHTTP is [inet_http_server] as a client sees it.
type ClientHTTP struct{ Listen, Username, Password string }

// Ctl is the [supervisorctl] section: ServerURL defaults to
// http://localhost:9001 and Prompt to "supervisor", as in supervisorctl;
// a unix:// path is made absolute.
type Ctl struct{ ServerURL, Username, Password, Prompt string }

// ReadClient reads the client's part of the supervisord config at path.
func ReadClient(path string) (Client, error) {
	var c Client
	if s, ok, err := Section(path, "unix_http_server"); err != nil {
		return c, err
	} else if ok {
		c.Socket = s["file"]
	}
	if s, ok, err := Section(path, "inet_http_server"); err != nil {
		return c, err
	} else if ok {
		c.HTTP = &ClientHTTP{Listen: listenAddress(s["port"]), Username: s["username"], Password: s["password"]}
	}
	s, ok, err := Section(path, "supervisorctl")
	if err != nil || !ok {
		return c, err
	}
	ctl := &Ctl{ServerURL: s["serverurl"], Username: s["username"], Password: s["password"], Prompt: s["prompt"]}
	if ctl.ServerURL == "" {
		ctl.ServerURL = "http://localhost:9001"
	}
	if p, ok := strings.CutPrefix(ctl.ServerURL, "unix://"); ok {
		if abs, err := filepath.Abs(p); err == nil {
			ctl.ServerURL = "unix://" + abs
		}
	}
	if _, set := s["prompt"]; !set {
		ctl.Prompt = "supervisor"
	}
	c.Ctl = ctl
	return c, nil
}
