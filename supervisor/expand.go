package supervisor

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Expand applies Python %-format expansion with named keys, as supervisord
// does to its option values: "%(program_name)s_%(process_num)02d" with
// {program_name: "web", process_num: 1} gives "web_01". Values are strings
// or ints. "%%" is a literal percent sign. Supported conversions are
// s, r, d, i, u, x, X, o with the flags "-+ 0#", width and precision.
func Expand(format string, vars map[string]any) (string, error) {
	if !strings.Contains(format, "%") {
		return format, nil
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			b.WriteByte('%')
			i += 2
			continue
		}
		n, err := expandOne(&b, format, i, vars)
		if err != nil {
			return "", err
		}
		i = n
	}
	return b.String(), nil
}

// expandOne formats the directive starting at format[i] ('%') and returns
// the index just after it.
func expandOne(b *strings.Builder, format string, i int, vars map[string]any) (int, error) {
	rest := format[i+1:]
	if !strings.HasPrefix(rest, "(") {
		return 0, fmt.Errorf("format string %q: %%-directive at offset %d needs a (name)", format, i)
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return 0, fmt.Errorf("format string %q: unterminated %%(name", format)
	}
	key := rest[1:end]
	j := end + 1
	spec := ""
	for j < len(rest) && strings.IndexByte("-+ 0#.0123456789", rest[j]) >= 0 {
		spec += string(rest[j])
		j++
	}
	if j >= len(rest) {
		return 0, fmt.Errorf("format string %q: incomplete format after %%(%s)", format, key)
	}
	verb := rest[j]
	val, ok := vars[key]
	if !ok {
		return 0, fmt.Errorf("format string %q contains names (%q) which cannot be expanded; available names: %s",
			format, key, strings.Join(slices.Sorted(maps.Keys(vars)), ", "))
	}
	s, err := formatValue(spec, verb, key, val)
	if err != nil {
		return 0, fmt.Errorf("format string %q: %w", format, err)
	}
	b.WriteString(s)
	return i + 1 + j + 1, nil
}

func formatValue(spec string, verb byte, key string, val any) (string, error) {
	switch verb {
	case 's', 'r':
		var s string
		switch v := val.(type) {
		case string:
			s = v
			if verb == 'r' {
				s = "'" + v + "'"
			}
		case int:
			s = strconv.Itoa(v)
		default:
			s = fmt.Sprint(v)
		}
		return fmt.Sprintf("%"+spec+"s", s), nil
	case 'd', 'i', 'u', 'x', 'X', 'o':
		n, ok := val.(int)
		if !ok {
			return "", fmt.Errorf("%%(%s)%c format: a number is required, not %T", key, verb, val)
		}
		goVerb := map[byte]string{'d': "d", 'i': "d", 'u': "d", 'x': "x", 'X': "X", 'o': "o"}[verb]
		return fmt.Sprintf("%"+spec+goVerb, n), nil
	}
	return "", fmt.Errorf("unsupported format character %q in %%(%s)", verb, key)
}
