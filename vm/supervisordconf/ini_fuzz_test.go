package supervisordconf

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
)

// FuzzParseINI feeds arbitrary text to the INI parser and the converter.
// Neither may panic. What the parser accepts must be well formed (keys
// lower case and trimmed, without '=' or ':'; values without trailing
// newlines; line numbers inside the file) and must survive a round trip:
// written back as canonical INI it parses to the same sections and
// options. And whatever converts must be Lua that parses, so that tend
// import never prints a config tend cannot read. The corpus is in
// testdata/fuzz/FuzzParseINI; the example configs are seeds too.
func FuzzParseINI(f *testing.F) {
	for _, p := range []string{"testdata/full/supervisord.conf", "testdata/full/conf.d/extra.conf", "testdata/edge/supervisord.conf"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		ini, err := parseINI("t.conf", src)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		checkWellFormed(t, ini, strings.Count(src, "\n")+1)
		again, err := parseINI("t.conf", renderINI(ini))
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, renderINI(ini))
		}
		if got, want := dumpINI(again), dumpINI(ini); got != want {
			t.Fatalf("round trip changed the file:\n got %q\nwant %q\ncanonical:\n%s", got, want, renderINI(ini))
		}
		res, err := Convert("t.conf", src, "fuzz")
		if err != nil {
			t.Fatalf("parsed but did not convert: %v", err)
		}
		if _, err := parse.Parse(strings.NewReader(res.Lua), "tend.lua"); err != nil {
			t.Fatalf("converted config is not Lua: %v\n%s", err, res.Lua)
		}
	})
}

// checkWellFormed checks the invariants of a parsed file.
func checkWellFormed(t *testing.T, ini *iniFile, lines int) {
	t.Helper()
	names := map[string]bool{}
	for _, s := range ini.sections {
		if s.name == "" || names[s.name] {
			t.Fatalf("section name %q empty or repeated", s.name)
		}
		names[s.name] = true
		if s.line < 1 || s.line > lines {
			t.Fatalf("section %q at line %d of %d", s.name, s.line, lines)
		}
		if len(s.opts) != len(s.byKey) {
			t.Fatalf("section %q: %d options but %d keys", s.name, len(s.opts), len(s.byKey))
		}
		for _, o := range s.opts {
			if o.key == "" || o.key != strings.ToLower(o.key) || o.key != strings.TrimSpace(o.key) || strings.ContainsAny(o.key, "=:\n") {
				t.Fatalf("section %q: bad key %q", s.name, o.key)
			}
			if strings.HasSuffix(o.value, "\n") {
				t.Fatalf("%s.%s: value ends in a newline: %q", s.name, o.key, o.value)
			}
			if o.line < s.line || o.line > lines {
				t.Fatalf("%s.%s at line %d (section at %d, file of %d)", s.name, o.key, o.line, s.line, lines)
			}
			if s.byKey[o.key] != o {
				t.Fatalf("%s.%s: byKey holds another option", s.name, o.key)
			}
		}
	}
}

// renderINI writes a parsed file back in canonical form: each section
// once, options at the margin, continuation lines indented.
func renderINI(ini *iniFile) string {
	var b strings.Builder
	for _, s := range ini.sections {
		fmt.Fprintf(&b, "[%s]\n", s.name)
		for _, o := range s.opts {
			first, rest, _ := strings.Cut(o.value, "\n")
			// No space before the value: " #" would start a comment.
			fmt.Fprintf(&b, "%s=%s\n", o.key, first)
			if rest != "" || strings.Contains(o.value, "\n") {
				for _, l := range strings.Split(rest, "\n") {
					if l == "" {
						b.WriteString("\n")
					} else {
						b.WriteString("  " + l + "\n")
					}
				}
			}
		}
	}
	return b.String()
}

// dumpINI is the content of a parsed file, for comparison.
func dumpINI(ini *iniFile) string {
	var b strings.Builder
	for _, s := range ini.sections {
		fmt.Fprintf(&b, "[%q]", s.name)
		for _, o := range s.opts {
			fmt.Fprintf(&b, " %q=%q", o.key, o.value)
		}
		b.WriteString("\n")
	}
	return b.String()
}
