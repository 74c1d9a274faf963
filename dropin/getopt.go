package dropin

import (
	"fmt"
	"strings"
)

// flagSpec is a command line's options in Python getopt's terms, which
// supervisord and supervisorctl use: short letters (followed by ':' when
// they take a value) and long names (followed by '=').
type flagSpec struct {
	short string
	long  []string
	// names maps a short letter to its long name, so each option is
	// reported under one name.
	names map[byte]string
}

// opt is one option found on the command line, by its long name.
type opt struct{ name, value string }

// getopt parses args as Python's getopt.getopt does: options end at the
// first argument that is not one (or after "--"); short options may be
// grouped (-nc FILE) and take their value attached or as the next
// argument; a long option may be abbreviated to a unique prefix and takes
// its value after '=' or as the next argument.
func (f flagSpec) getopt(args []string) ([]opt, []string, error) {
	var out []opt
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			return out, args[1:], nil
		case strings.HasPrefix(a, "--"):
			o, rest, err := f.longOpt(a[2:], args[1:])
			if err != nil {
				return nil, nil, err
			}
			out, args = append(out, o), rest
		case strings.HasPrefix(a, "-") && a != "-":
			opts, rest, err := f.shortOpts(a[1:], args[1:])
			if err != nil {
				return nil, nil, err
			}
			out, args = append(out, opts...), rest
		default:
			return out, args, nil
		}
	}
	return out, nil, nil
}

func (f flagSpec) longOpt(a string, rest []string) (opt, []string, error) {
	name, value, hasValue := strings.Cut(a, "=")
	var match []string
	for _, l := range f.long {
		if strings.TrimSuffix(l, "=") == name {
			match = []string{l}
			break
		}
		if strings.HasPrefix(l, name) {
			match = append(match, l)
		}
	}
	switch {
	case len(match) == 0:
		return opt{}, nil, fmt.Errorf("option --%s not recognized", name)
	case len(match) > 1:
		return opt{}, nil, fmt.Errorf("option --%s not a unique prefix", name)
	}
	full, takes := strings.CutSuffix(match[0], "=")
	switch {
	case takes && !hasValue:
		if len(rest) == 0 {
			return opt{}, nil, fmt.Errorf("option --%s requires argument", full)
		}
		value, rest = rest[0], rest[1:]
	case !takes && hasValue:
		return opt{}, nil, fmt.Errorf("option --%s must not have an argument", full)
	}
	return opt{name: full, value: value}, rest, nil
}

func (f flagSpec) shortOpts(a string, rest []string) ([]opt, []string, error) {
	var out []opt
	for i := 0; i < len(a); i++ {
		c := a[i]
		k := strings.IndexByte(f.short, c)
		if k < 0 || c == ':' {
			return nil, nil, fmt.Errorf("option -%c not recognized", c)
		}
		name := f.names[c]
		if k+1 < len(f.short) && f.short[k+1] == ':' {
			value := a[i+1:]
			if value == "" {
				if len(rest) == 0 {
					return nil, nil, fmt.Errorf("option -%c requires argument", c)
				}
				value, rest = rest[0], rest[1:]
			}
			return append(out, opt{name: name, value: value}), rest, nil
		}
		out = append(out, opt{name: name})
	}
	return out, rest, nil
}
