package supervisordconf

import "strings"

// entry is one line of a Lua table constructor: key = value, or a comment.
type entry struct {
	key, value string // value is Lua source; a nested block is rendered in place
	nested     *block
	note       string // a comment instead of an option when key is ""
	at         string // a position marker (mark) written before the line, or ""
}

// block is a Lua table constructor being built, written with one option
// per line and the = signs aligned.
type block struct{ entries []entry }

func (b *block) set(k, luaValue string) {
	b.entries = append(b.entries, entry{key: k, value: luaValue})
}

// setAt is set for a line that at (a mark) locates in the INI source.
func (b *block) setAt(at, k, luaValue string) {
	b.entries = append(b.entries, entry{key: k, value: luaValue, at: at})
}

// setBlockAt sets k to the nested block nb; at (a mark) locates the line.
func (b *block) setBlockAt(at, k string, nb *block) {
	b.entries = append(b.entries, entry{key: k, nested: nb, at: at})
}

func (b *block) comment(text string) { b.entries = append(b.entries, entry{note: text}) }

func (b *block) empty() bool { return len(b.entries) == 0 }

// render returns the constructor "{ ... }" whose lines are indented by
// indent + two spaces and whose closing brace is indented by indent.
func (b *block) render(indent string) string {
	if b.empty() {
		return "{}"
	}
	inner := indent + "  "
	width := 0
	for _, e := range b.entries {
		if e.key != "" && e.nested == nil {
			width = max(width, len(e.key))
		}
	}
	var s strings.Builder
	s.WriteString("{\n")
	for _, e := range b.entries {
		switch {
		case e.key == "":
			s.WriteString(comment(inner, e.note))
		case e.nested != nil:
			s.WriteString(e.at + inner + e.key + " = " + e.nested.render(inner) + ",\n")
		default:
			s.WriteString(e.at + inner + e.key + strings.Repeat(" ", width-len(e.key)) + " = " + e.value + ",\n")
		}
	}
	s.WriteString(indent + "}")
	return s.String()
}
