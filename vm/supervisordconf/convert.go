package supervisordconf

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tend-sh/tend/supervisor"
)

// Warning is something the import could not carry over exactly. The
// output still loads; the warning says what changed.
type Warning struct {
	File string
	Line int // 0 when the warning is about the whole file
	Msg  string
}

func (w Warning) String() string {
	if w.Line == 0 {
		return w.File + ": " + w.Msg
	}
	return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
}

// Result is an imported config.
type Result struct {
	Lua      string    // the tend config
	Warnings []Warning // in file order, then those about the whole file
}

// ImportFile reads the supervisord config at path and converts it.
// version names the tool in the output's header.
func ImportFile(path, version string) (*Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read supervisord config: %w", err)
	}
	return Convert(path, string(src), version)
}

// Convert converts src, the text of the supervisord config at path, to a
// tend config. A line that is not a section, an option or a comment is a
// *SyntaxError; everything else converts, with warnings for what tend
// does not support.
func Convert(path, src, version string) (*Result, error) {
	f, err := parseINI(path, src)
	if err != nil {
		return nil, err
	}
	here, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("folder of %s: %w", path, err)
	}
	if err := checkInclude(path, f); err != nil {
		return nil, err
	}
	c := &converter{file: path, here: here}
	return &Result{Lua: c.convert(f, version), Warnings: c.warnings}, nil
}

// converter holds what converting one file collects.
type converter struct {
	file     string // as given, for messages
	here     string // the file's absolute folder: supervisord's %(here)s
	warnings []Warning
	usesHere bool     // an option kept %(here)s, whose meaning moves with the output
	defaults *section // [DEFAULT], or nil

	// inline is set when the config is read in memory (Read): [include]
	// files were merged into it already, so no include lines are written,
	// and each Lua line that an INI line gives is marked (mark).
	inline    bool
	positions []Pos // what the marks written so far point at
}

func (c *converter) warn(line int, format string, args ...any) {
	c.warnings = append(c.warnings, Warning{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// output is the tend config being assembled, part by part.
type output struct {
	daemon, socket, http                  block
	programs, groups, includes, notImport []string
	daemonAt, socketAt, httpAt            string // marks of their sections' headers
}

// convert writes the whole tend config: header, daemon, programs, groups,
// includes, then the sections that were not imported.
func (c *converter) convert(f *iniFile, version string) string {
	var out output
	if c.defaults = f.defaults(); c.defaults != nil {
		out.notImport = append(out.notImport, comment("", fmt.Sprintf("[DEFAULT] (line %d): its options were copied into every section that has them, as supervisord's parser does.", c.defaults.line)))
	}
	for _, s := range f.sections {
		c.section(s, &out)
	}
	if c.usesHere {
		c.warn(0, "%%(here)s now means the folder of the tend config: write it next to %s (%s) or replace %%(here)s", c.file, c.here)
	}
	return out.render(c.file, version)
}

// sectionKeys are the options supervisord reads in the sections that are
// not converted by a spec list; [DEFAULT] can supply them.
var sectionKeys = map[string][]string{
	"unix_http_server": {"file", "chmod", "chown", "username", "password"},
	"inet_http_server": {"port", "username", "password"},
	"group":            {"programs", "priority"},
}

// section converts one section into its part of out.
func (c *converter) section(s *section, out *output) {
	kind, name := sectionKind(s.name)
	c.file = s.file
	switch kind {
	case "supervisord":
		out.daemonAt = c.mark(s.file, s.line)
		c.inherit(s, func(k string) bool { _, ok := daemonNotes[k]; return ok || hasSpec(daemonSpecs, k) })
		c.daemon(s, &out.daemon)
	case "program":
		c.inherit(s, func(k string) bool { return hasSpec(programSpecs, k) })
		out.programs = append(out.programs, c.program(name, s))
	case "unix_http_server", "inet_http_server", "group":
		c.inherit(s, func(k string) bool { return slices.Contains(sectionKeys[kind], k) })
		switch kind {
		case "unix_http_server":
			out.socketAt = c.mark(s.file, s.line)
			c.socket(s, &out.socket)
		case "inet_http_server":
			out.httpAt = c.mark(s.file, s.line)
			c.http(s, &out.http)
		default:
			out.groups = append(out.groups, c.group(name, s))
		}
	case "include":
		if c.inline {
			return // Read merged the files in
		}
		c.inherit(s, func(k string) bool { return k == "files" })
		out.includes = append(out.includes, c.include(s)...)
	case "DEFAULT":
		// Applied by inherit.
	case "supervisorctl":
		out.notImport = append(out.notImport, comment("", fmt.Sprintf("[%s] (line %d) skipped: tend's CLI finds the daemon from this config's socket (or -s URL).", s.name, s.line)))
	case "rpcinterface", "ctlplugin":
		out.notImport = append(out.notImport, comment("", fmt.Sprintf("[%s] (line %d) skipped: tend has its RPC interface built in and no plugins.", s.name, s.line)))
	case "eventlistener":
		c.inherit(s, func(k string) bool { return hasSpec(listenerSpecs, k) })
		out.programs = append(out.programs, c.listener(name, s))
	case "fcgi-program":
		c.inherit(s, func(k string) bool { return hasSpec(fcgiSpecs, k) })
		out.programs = append(out.programs, c.fcgi(name, s))
	default:
		c.warn(s.line, "[%s]: not a supervisord section; kept as a comment", s.name)
		out.notImport = append(out.notImport, comment("", fmt.Sprintf("[%s] (line %d) not imported: not a supervisord section.\n\n%s", s.name, s.line, strings.Join(s.raw, "\n"))))
	}
}

// render writes the config text. The socket and http settings go inside
// daemon{}, which is left out when the file has no server sections (an
// included file), as a second daemon{} would be an error.
func (o *output) render(file, version string) string {
	if !o.socket.empty() {
		o.daemon.setBlockAt(o.socketAt, "socket", &o.socket)
	}
	if !o.http.empty() {
		o.daemon.setBlockAt(o.httpAt, "http", &o.http)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- Imported from %s by tend import (tend %s).\n", file, version)
	b.WriteString("-- Options keep supervisord's names and values; unset options keep their defaults.\n")
	if !o.daemon.empty() {
		b.WriteString("\n" + o.daemonAt + "daemon " + o.daemon.render("") + "\n")
	}
	for _, part := range slices.Concat(o.programs, o.groups) {
		b.WriteString("\n" + part + "\n")
	}
	if len(o.includes) > 0 {
		b.WriteString("\n" + strings.Join(o.includes, ""))
	}
	for _, part := range o.notImport {
		b.WriteString("\n" + part)
	}
	return b.String()
}

// sectionKind splits a section name into its kind and, for the sections
// that name something ([program:x]), the name.
func sectionKind(section string) (kind, name string) {
	if k, n, ok := strings.Cut(section, ":"); ok {
		switch k {
		case "program", "group", "eventlistener", "fcgi-program", "rpcinterface", "ctlplugin":
			return k, n
		}
	}
	return section, ""
}

// inherit copies into s the [DEFAULT] options it lacks and reads. Python's
// configparser shows [DEFAULT]'s options in every section, and supervisord
// reads from a section only the options it knows there.
func (c *converter) inherit(s *section, known func(string) bool) {
	if c.defaults == nil {
		return
	}
	for _, o := range c.defaults.opts {
		if _, ok := s.get(o.key); !ok && known(o.key) {
			cp := *o
			s.opts = append(s.opts, &cp)
			s.byKey[o.key] = &cp
		}
	}
}

// optSpec is an option the importer carries over: its name and the kind
// of its value, which says how to write it in Lua.
type optSpec struct {
	name string
	kind supervisor.Kind
}

// programSpecs are supervisord's [program:x] options, from
// supervisor.ProgramOptions in its order (tend init's); tend's own options
// are unknown in a supervisord config.
var programSpecs = supervisordOptions("program")

// listenerSpecs are the [eventlistener:x] options: a program's, and the
// pool's events and buffer_size.
var listenerSpecs = supervisordOptions("eventlistener")

// fcgiSpecs are the [fcgi-program:x] options: a program's, and the
// socket's socket, socket_backlog, socket_owner and socket_mode.
var fcgiSpecs = supervisordOptions("fcgi_program")

func supervisordOptions(decl string) []optSpec {
	var out []optSpec
	for _, o := range supervisor.ProgramOptions {
		if !o.Tend && o.Accepts(decl) {
			out = append(out, optSpec{o.Name, o.Kind})
		}
	}
	return out
}

// daemonSpecs are the [supervisord] options daemon{} has under the same name.
var daemonSpecs = []optSpec{
	{"logfile", supervisor.KindString}, {"logfile_maxbytes", supervisor.KindSize},
	{"logfile_backups", supervisor.KindInt}, {"loglevel", supervisor.KindString},
	{"pidfile", supervisor.KindString}, {"childlogdir", supervisor.KindString},
	{"directory", supervisor.KindString}, {"umask", supervisor.KindOctal},
	{"identifier", supervisor.KindString}, {"nocleanup", supervisor.KindBool},
	{"minfds", supervisor.KindInt}, {"environment", supervisor.KindEnvironment},
	{"user", supervisor.KindString},
}

// DaemonOptions returns the [supervisord] options the importer writes into
// daemon{}, with the kind of their values; vm's tests check that daemon{}
// has each one with that kind.
func DaemonOptions() map[string]supervisor.Kind {
	m := map[string]supervisor.Kind{}
	for _, sp := range daemonSpecs {
		m[sp.name] = sp.kind
	}
	return m
}

// daemonNotes are the [supervisord] options tend has no equivalent for:
// why, and whether the difference is worth a warning.
var daemonNotes = map[string]struct {
	why  string
	warn bool
}{
	"nodaemon":   {"tend runs in the foreground unless started with --detach", false},
	"minprocs":   {"not applicable: tend has no process-count limit to raise", false},
	"strip_ansi": {"not supported: tend writes child output to its logs as it comes", true},
	"silent":     {"not supported: a foreground tend echoes its log to stderr; redirect it", true},
}

// options writes the options of s that specs name, in specs' order, and
// returns the options left over.
func (c *converter) options(s *section, specs []optSpec, b *block) []*option {
	for _, sp := range specs {
		if o, ok := s.get(sp.name); ok {
			b.setAt(c.mark(o.file, o.line), sp.name, c.value(s, o, sp.kind))
		}
	}
	var rest []*option
	for _, o := range s.opts {
		if !hasSpec(specs, o.key) {
			rest = append(rest, o)
		}
	}
	return rest
}

func hasSpec(specs []optSpec, name string) bool {
	for _, sp := range specs {
		if sp.name == name {
			return true
		}
	}
	return false
}

// unknown keeps an option tend does not know as a comment, with a warning.
func (c *converter) unknown(s *section, o *option, b *block) {
	c.warn(o.line, "[%s]: unknown option %q; kept as a comment", s.name, o.key)
	b.comment(unknownNote(o))
}

func unknownNote(o *option) string {
	return fmt.Sprintf("%s = %s  (line %d: unknown option, not imported)", o.key, o.value, o.line)
}

// daemon converts [supervisord] to daemon{}: the options tend shares by
// name, and a comment for each one it has no use for.
func (c *converter) daemon(s *section, b *block) {
	for _, o := range c.options(s, daemonSpecs, b) {
		note, ok := daemonNotes[o.key]
		if !ok {
			c.unknown(s, o, b)
			continue
		}
		if note.warn {
			c.warn(o.line, "[%s]: %s = %s: %s", s.name, o.key, o.value, note.why)
		}
		b.comment(fmt.Sprintf("%s = %s: %s", o.key, o.value, note.why))
	}
}

// socket converts [unix_http_server] to daemon{ socket = {...} }.
func (c *converter) socket(s *section, b *block) {
	for _, o := range s.opts {
		switch o.key {
		case "file":
			// %(here)s in tend means the Lua file's folder: give it
			// supervisord's meaning (the .conf's folder) now.
			b.setAt(c.mark(o.file, o.line), "path", quote(c.expandHere(o)))
		case "chmod":
			b.setAt(c.mark(o.file, o.line), "mode", quote(o.value))
		case "chown":
			b.setAt(c.mark(o.file, o.line), "owner", quote(o.value))
		case "username", "password":
			c.warn(o.line, "[%s]: %s: tend's socket has no password; its mode (chmod) controls access", s.name, o.key)
			v := o.value
			if o.key == "password" {
				v = "(not copied)" // no use to tend, so no reason to spread it
			}
			b.comment(fmt.Sprintf("%s = %s: not supported; the socket's mode controls access", o.key, v))
		default:
			c.unknown(s, o, b)
		}
	}
}

// http converts [inet_http_server] to daemon{ http = {...} }.
func (c *converter) http(s *section, b *block) {
	for _, o := range s.opts {
		switch o.key {
		case "port":
			b.setAt(c.mark(o.file, o.line), "listen", quote(listenAddress(o.value)))
		case "username", "password":
			b.setAt(c.mark(o.file, o.line), o.key, quote(o.value))
		default:
			c.unknown(s, o, b)
		}
	}
	_, user := s.get("username")
	_, pass := s.get("password")
	if !user || !pass {
		// supervisord serves without authentication then; tend only when told.
		c.warn(s.line, "[%s]: no username and password: the HTTP server accepts anyone (allow_no_auth = true)", s.name)
		b.setAt(c.mark(s.file, s.line), "allow_no_auth", "true")
	}
}

// listenAddress turns supervisord's port= into a Go listen address. A
// missing or '*' host means every interface there (datatypes.inet_address
// binds to the empty host), which Go writes ":9001".
func listenAddress(port string) string {
	host, p := "", port
	if i := strings.LastIndexByte(port, ':'); i >= 0 {
		host, p = strings.ToLower(port[:i]), port[i+1:]
	}
	if host == "*" {
		host = ""
	}
	return host + ":" + p
}

// program converts a [program:x] section to a program "x" { ... } block.
func (c *converter) program(name string, s *section) string {
	var b block
	for _, o := range c.options(s, programSpecs, &b) {
		c.unknown(s, o, &b)
	}
	return c.mark(s.file, s.line) + "program " + quote(name) + " " + b.render("")
}

// listener converts an [eventlistener:x] section to an eventlistener "x"
// { ... } block. result_handler names a Python function; tend's handler is
// supervisord's default one, so it is reported like any unknown option.
func (c *converter) listener(name string, s *section) string {
	var b block
	for _, o := range c.options(s, listenerSpecs, &b) {
		c.unknown(s, o, &b)
	}
	return c.mark(s.file, s.line) + "eventlistener " + quote(name) + " " + b.render("")
}

// fcgi converts an [fcgi-program:x] section to an fcgi_program "x" { ... }
// block: a program whose instances all get the socket as descriptor 0.
func (c *converter) fcgi(name string, s *section) string {
	var b block
	for _, o := range c.options(s, fcgiSpecs, &b) {
		c.unknown(s, o, &b)
	}
	return c.mark(s.file, s.line) + "fcgi_program " + quote(name) + " " + b.render("")
}

// group converts a [group:x] section to a group "x" { ... } block.
func (c *converter) group(name string, s *section) string {
	var b block
	for _, o := range s.opts {
		switch o.key {
		case "programs":
			var names []string
			for _, p := range strings.Split(o.value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					names = append(names, quote(p))
				}
			}
			b.setAt(c.mark(o.file, o.line), "programs", "{ "+strings.Join(names, ", ")+" }")
		case "priority":
			b.setAt(c.mark(o.file, o.line), "priority", c.value(s, o, supervisor.KindInt))
		default:
			c.unknown(s, o, &b)
		}
	}
	return c.mark(s.file, s.line) + "group " + quote(name) + " " + b.render("")
}

// include converts [include] files= to include lines. The files are INI,
// so each include names the .lua files that converting them gives (the
// glob's extension replaced by .lua, as the shell loop in the warning
// does), and the glob is made absolute: supervisord reads it relative to
// this file's folder, tend relative to the tend config's.
func (c *converter) include(s *section) []string {
	var out []string
	for _, o := range s.opts {
		if o.key != "files" {
			c.warn(o.line, "[%s]: unknown option %q; kept as a comment", s.name, o.key)
			out = append(out, comment("", "[include] "+unknownNote(o)))
			continue
		}
		var loops []string
		for _, g := range strings.Fields(c.expandHere(o)) {
			if !filepath.IsAbs(g) {
				g = filepath.Join(c.here, g)
			}
			ext := filepath.Ext(g)
			out = append(out, comment("", "files = "+g)+"include "+quote(strings.TrimSuffix(g, ext)+".lua")+"\n")
			dest := `"$f.lua"`
			if ext != "" {
				dest = fmt.Sprintf(`"${f%%%s}.lua"`, ext)
			}
			loops = append(loops, fmt.Sprintf(`for f in %s; do tend import "$f" > %s; done`, g, dest))
		}
		if len(loops) > 0 {
			c.warn(o.line, "[include]: the included files are INI: convert each one: %s", strings.Join(loops, "; "))
		}
	}
	return out
}

// checkInclude refuses an [include] section without files= (from itself
// or [DEFAULT]), as supervisord does.
func checkInclude(path string, f *iniFile) error {
	for _, s := range f.sections {
		if s.name != "include" {
			continue
		}
		if _, ok := s.get("files"); ok {
			continue
		}
		if d := f.defaults(); d != nil {
			if _, ok := d.get("files"); ok {
				continue
			}
		}
		return &SyntaxError{File: path, Line: s.line,
			Msg: `[include] has no files= setting (supervisord refuses it: ".ini file has [include] section, but no files setting")`}
	}
	return nil
}

// expandHere replaces %(here)s in o's value with the file's folder.
func (c *converter) expandHere(o *option) string {
	return strings.ReplaceAll(o.value, "%(here)s", c.here)
}

// intRE and sizeRE are the numbers supervisord's integer and byte_size accept.
var (
	intRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[-+]?[0-9]+$`) })
	sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^[0-9]+(kb|mb|gb)$`) })
)

// value returns o's value as Lua source for an option of kind k. A value
// that is not of its kind (such as "%(ENV_N)s" for a number) is kept as a
// string, with a warning, so that tend check reports what it makes of it.
func (c *converter) value(s *section, o *option, k supervisor.Kind) string {
	v := o.value
	if strings.Contains(v, "%(here)s") {
		c.usesHere = true
	}
	lua, ok := typed(v, k)
	if ok {
		return lua
	}
	if strings.Contains(v, "%(") {
		// tend expands every value before it decodes it, as supervisord
		// does: "%(ENV_N)s" is a fine number once expanded.
		return quote(v)
	}
	if k == supervisor.KindEnvironment {
		c.warn(o.line, "[%s]: environment: cannot parse %q (supervisord would refuse it too); kept as a string", s.name, v)
	} else {
		c.warn(o.line, "[%s]: %s = %s is not %s; kept as a string", s.name, o.key, v, kindName[k])
	}
	return quote(v)
}

var kindName = map[supervisor.Kind]string{
	supervisor.KindInt: "an integer", supervisor.KindSeconds: "an integer", supervisor.KindBool: "true or false",
	supervisor.KindSize: `a size ("50MB" or bytes)`, supervisor.KindAutoRestart: `true, false or "unexpected"`,
	supervisor.KindExitCodes: "a list of exit codes", supervisor.KindEnvironment: "KEY=value pairs",
	supervisor.KindNames: "a comma-separated list of names",
}

// typed renders v as kind k, or reports that it is not of that kind.
func typed(v string, k supervisor.Kind) (string, bool) {
	switch k {
	case supervisor.KindString, supervisor.KindCommand, supervisor.KindLogFile, supervisor.KindSignal, supervisor.KindOctal:
		return quote(v), true
	case supervisor.KindInt, supervisor.KindSeconds:
		if intRE().MatchString(v) {
			n, err := strconv.Atoi(v)
			return strconv.Itoa(n), err == nil
		}
	case supervisor.KindSize:
		if intRE().MatchString(v) && !strings.HasPrefix(v, "-") {
			n, err := strconv.ParseInt(v, 10, 64)
			return strconv.FormatInt(n, 10), err == nil
		}
		if sizeRE().MatchString(v) {
			return quote(v), true
		}
	case supervisor.KindBool:
		if b, ok := boolean(v); ok {
			return strconv.FormatBool(b), true
		}
	case supervisor.KindAutoRestart:
		if strings.EqualFold(v, "unexpected") {
			return `"unexpected"`, true
		}
		if b, ok := boolean(v); ok {
			return strconv.FormatBool(b), true
		}
	case supervisor.KindExitCodes:
		var codes []string
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 255 {
				return "", false
			}
			codes = append(codes, strconv.Itoa(n))
		}
		return "{ " + strings.Join(codes, ", ") + " }", true
	case supervisor.KindEnvironment:
		return envTable(v)
	case supervisor.KindNames:
		var names []string
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				names = append(names, quote(f))
			}
		}
		return "{ " + strings.Join(names, ", ") + " }", len(names) > 0
	}
	return "", false
}

// boolean parses supervisord's boolean values.
func boolean(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	return false, false
}

// envTable renders an environment= string as a Lua table, one variable a
// line, in the order written.
func envTable(v string) (string, bool) {
	pairs, err := supervisor.ParseEnvironment(v)
	if err != nil {
		return "", false
	}
	if len(pairs) == 0 {
		return "{}", true
	}
	var b block
	for _, p := range pairs {
		b.set(key(p.Key), quote(p.Value))
	}
	return b.render("  "), true
}
