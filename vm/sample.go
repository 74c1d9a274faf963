package vm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/tend-sh/tend/scripts"
	"github.com/tend-sh/tend/supervisor"
)

// Sample returns the commented sample config that tend init prints:
// scripts/init.lua with each "-- @options" line replaced by the options of
// its declaration that the file does not write out by hand, each with its
// default (or, commented out, an example) and doc line from the tables.
func Sample() string { return renderSample(scripts.Init) }

// sampleEntry is one option as the sample shows it.
type sampleEntry struct {
	name              string
	kind              supervisor.Kind
	def, example, doc string
}

// sampleEntries returns the options of a declaration kind ("daemon",
// "program" or "eventlistener"; an eventlistener's block lists only the
// pool options, its program options being those of program{}).
func sampleEntries(decl string) []sampleEntry {
	var out []sampleEntry
	if decl == "daemon" {
		for _, o := range daemonOptions {
			out = append(out, sampleEntry{o.name, o.kind, o.def, o.example, o.doc})
		}
		return out
	}
	for _, o := range supervisor.ProgramOptions {
		if o.Listener == (decl == "eventlistener") && !o.FCGI {
			out = append(out, sampleEntry{o.Name, o.Kind, o.Default, o.Example, o.Doc})
		}
	}
	return out
}

var declRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(daemon|program|eventlistener)\b`) })

// renderSample expands the "-- @options" lines of a sample template.
func renderSample(tmpl string) string {
	lines := strings.SplitAfter(tmpl, "\n")
	var b strings.Builder
	decl, start := "", 0
	for i, ln := range lines {
		if m := declRE().FindString(ln); m != "" {
			decl, start = m, i
		}
		if !strings.HasPrefix(strings.TrimSpace(ln), "-- @options") {
			b.WriteString(ln)
			continue
		}
		b.WriteString(optionLines(sampleEntries(decl), blockText(lines[start:])))
	}
	return b.String()
}

// blockText returns the declaration that starts lines[0], up to its
// closing "}" in the first column.
func blockText(lines []string) string {
	var b strings.Builder
	for _, ln := range lines {
		b.WriteString(ln)
		if strings.HasPrefix(ln, "}") {
			break
		}
	}
	return b.String()
}

// optionLines writes, aligned, the entries the block does not set (or
// show commented out) itself. An entry with neither default nor example
// must be written by hand.
func optionLines(entries []sampleEntry, block string) string {
	type line struct{ key, value, doc string }
	var out []line
	for _, e := range entries {
		written := regexp.MustCompile(`(?m)^\s*(--\s*)?` + e.name + `\s*=`)
		if written.MatchString(block) || e.def == "" && e.example == "" {
			continue
		}
		l := line{key: e.name, value: luaValue(e.kind, e.def) + ",", doc: e.doc}
		if e.def == "" {
			l.key, l.value = "-- "+e.name, luaValue(e.kind, e.example)+","
		}
		out = append(out, l)
	}
	kw, vw := 0, 0
	for _, l := range out {
		kw, vw = max(kw, len(l.key)), max(vw, len(l.value))
	}
	var b strings.Builder
	for _, l := range out {
		s := fmt.Sprintf("  %-*s = %s", kw, l.key, l.value)
		if l.doc != "" {
			s = fmt.Sprintf("  %-*s = %-*s -- %s", kw, l.key, vw, l.value, l.doc)
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

// luaValue writes a value given as supervisord writes it (such as "0,2"
// or "50MB") as the Lua a config would hold.
func luaValue(k supervisor.Kind, v string) string {
	list := func(quoteItems bool) string {
		var items []string
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); quoteItems {
				f = strconv.Quote(f)
			}
			items = append(items, f)
		}
		return "{ " + strings.Join(items, ", ") + " }"
	}
	switch k {
	case supervisor.KindBool, supervisor.KindInt, supervisor.KindSeconds, supervisor.KindStartLimit, supervisor.KindTable:
		return v
	case supervisor.KindSize:
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v
		}
	case supervisor.KindAutoRestart:
		if v == "true" || v == "false" {
			return v
		}
	case supervisor.KindExitCodes:
		return list(false)
	case supervisor.KindNames:
		return list(true)
	case supervisor.KindEnvironment:
		pairs, err := supervisor.ParseEnvironment(v)
		if err != nil || len(pairs) == 0 {
			return "{}"
		}
		var items []string
		for _, p := range pairs {
			items = append(items, p.Key+" = "+strconv.Quote(p.Value))
		}
		return "{ " + strings.Join(items, ", ") + " }"
	}
	return strconv.Quote(v)
}
