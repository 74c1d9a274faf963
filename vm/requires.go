package vm

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// decodeRequires decodes requires = { db = "ready", "cache" }: a name with
// a condition, or a name alone for the default condition.
func decodeRequires(name string, v lua.LValue) (supervisor.Requirements, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`%s must be a table such as { db = "ready" } or { "db", "cache" }, not %s`, name, describe(v))
	}
	conds := make([]string, len(supervisor.Conditions))
	for i, c := range supervisor.Conditions {
		conds[i] = string(c)
	}
	var out supervisor.Requirements
	for _, k := range tableKeys(t) {
		val := t.RawGet(k)
		var r supervisor.Requirement
		switch k.(type) {
		case lua.LString: // db = "ready"
			c, ok := val.(lua.LString)
			if !ok || !slices.Contains(conds, string(c)) {
				msg := fmt.Sprintf("%s.%s must be one of %s, not %s", name, k.String(), strings.Join(conds, ", "), describe(val))
				if s := suggest(val.String(), conds); ok && s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				return nil, errors.New(msg)
			}
			r = supervisor.Requirement{Name: k.String(), Condition: supervisor.Condition(c)}
		case lua.LNumber: // "db" in the list form
			n, ok := val.(lua.LString)
			if !ok {
				return nil, fmt.Errorf("%s must list names, got %s in it", name, describe(val))
			}
			r = supervisor.Requirement{Name: string(n)}
		default:
			return nil, fmt.Errorf("%s: a key must be a name, not %s", name, describe(k))
		}
		if r.Name == "" || strings.ContainsAny(r.Name, " \t\n") {
			return nil, fmt.Errorf("%s: %q is no name", name, r.Name)
		}
		if slices.ContainsFunc(out, func(o supervisor.Requirement) bool { return o.Name == r.Name }) {
			return nil, fmt.Errorf("%s names %q twice", name, r.Name)
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b supervisor.Requirement) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// checkRequires reports each requirement that names nothing and each cycle
// of requirements, as an error at the requires option of the program that
// declares it.
func checkRequires(specs []supervisor.Spec, owner map[string]*programDecl) []error {
	errs := supervisor.RequireErrors(specs)
	var out []error
	seen := map[string]bool{}
	var names []string // only a config in error needs them
	for _, re := range errs {
		d := owner[re.Process]
		if d == nil {
			continue
		}
		msg := re.Error()
		if re.Cycle == nil {
			if names == nil {
				names = requireNames(specs)
			}
			if s := suggest(re.Name, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
		}
		if key := d.pos + msg; !seen[key] { // the instances of a program share one error
			seen[key] = true
			out = append(out, &ConfigError{Pos: d.pos, What: d.what(), Msg: msg, Option: "requires." + re.Name})
		}
	}
	return out
}

// requireNames lists what a requirement may name, for suggestions.
func requireNames(specs []supervisor.Spec) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range specs {
		for _, n := range []string{s.Program, s.Group, s.Name, s.Namespec()} {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// formatStartOrder writes tend check's start order: one line per process,
// by start level (what it requires comes first), with what it waits for.
// Stops go from the last line up.
func formatStartOrder(w io.Writer, specs []supervisor.Spec) {
	levels, errs := supervisor.StartLevels(specs)
	if len(errs) > 0 {
		return // a config that loaded has none
	}
	fmt.Fprintf(w, "\nstart order (a level starts once what it requires holds; stop goes bottom up):\n")
	width := 0
	for _, s := range specs {
		width = max(width, len(s.Namespec()))
	}
	ptrs := make([]*supervisor.Spec, len(specs))
	for i := range specs {
		ptrs[i] = &specs[i]
	}
	for i, l := range levels {
		for _, s := range l {
			var after []string
			for _, r := range s.Requires {
				targets := supervisor.ResolveRequirement(r.Name, ptrs)
				ts := make([]*supervisor.Spec, len(targets))
				for j, k := range targets {
					ts[j] = ptrs[k]
				}
				after = append(after, fmt.Sprintf("%s (%s)", r.Name, supervisor.DisplayCondition(r.Condition, ts)))
			}
			line := fmt.Sprintf("  %2d  %s", i+1, s.Namespec())
			if len(after) > 0 {
				line = fmt.Sprintf("  %2d  %-*s  after %s", i+1, width, s.Namespec(), strings.Join(after, ", "))
			}
			fmt.Fprintln(w, line)
		}
	}
}
