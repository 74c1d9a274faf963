package supervisordconf

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseINI checks the parser against what Python's configparser (as
// supervisord configures it) gives for the same text.
func TestParseINI(t *testing.T) {
	tests := []struct {
		name, src string
		want      map[string]string // "section.key" -> value
	}{
		{"equals and colon", "[a]\nx = 1\ny: 2\nz=a=b\nw:c=d\n",
			map[string]string{"a.x": "1", "a.y": "2", "a.z": "a=b", "a.w": "c=d"}},
		{"keys are case-insensitive, sections are not", "[A]\nCommand=/bin/true\n[a]\nx=1\n",
			map[string]string{"A.command": "/bin/true", "a.x": "1"}},
		{"inline comments need whitespace before them", "[a]\nx=1 ; c\ny=2\t# c\nz=a;b#c\nu=http://h/#f\n",
			map[string]string{"a.x": "1", "a.y": "2", "a.z": "a;b#c", "a.u": "http://h/#f"}},
		{"comment lines", "; top\n# top\n[a]\n  ; indented comment\nx=1\n",
			map[string]string{"a.x": "1"}},
		{"continuation lines", "[a]\nx=one\n  two\n\n\tthree\n\ny=4\n",
			map[string]string{"a.x": "one\ntwo\n\nthree", "a.y": "4"}},
		{"a comment line does not end a value", "[a]\nx=one\n; note\n  two\n",
			map[string]string{"a.x": "one\ntwo"}},
		{"equally indented lines are options", "[a]\n  x=1\n  y=2\n",
			map[string]string{"a.x": "1", "a.y": "2"}},
		{"a deeper line continues the value, even with an =", "[a]\n  x=1\n    y=2\n",
			map[string]string{"a.x": "1\ny=2"}},
		{"empty value", "[a]\nx=\ny =\n",
			map[string]string{"a.x": "", "a.y": ""}},
		{"repeats merge, the last value wins", "[a]\nx=1\n[b]\ny=2\n[a]\nx=3\nz=4\n",
			map[string]string{"a.x": "3", "a.z": "4", "b.y": "2"}},
		{"CRLF", "[a]\r\nx=1\r\n",
			map[string]string{"a.x": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseINI("t.conf", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range f.sections {
				for _, o := range s.opts {
					got[s.name+"."+o.key] = o.value
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestParseINIRaw checks the section text kept for comment blocks: from
// the header to the line before the next header, without trailing blanks.
func TestParseINIRaw(t *testing.T) {
	f, err := parseINI("t.conf", "[a]\nx=1\n\n[b]\ny=2\n\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.sections {
		got = append(got, strings.Join(s.raw, "|"))
	}
	if want := []string{"[a]|x=1", "[b]|y=2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("raw = %q, want %q", got, want)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`a "b" \c`, `"a \"b\" \\c"`},
		{"l1\nl2\r\tx", `"l1\nl2\r\tx"`},
		{"\x00\x1b1", `"\000\0271"`},
		{"héllo", `"héllo"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
