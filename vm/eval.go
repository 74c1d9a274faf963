package vm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Eval runs one chunk for the REPL or tend eval. It first tries
// "return <chunk>" so that an expression prints its value, then the chunk
// as a statement. The result is what the chunk printed followed by its
// returned values rendered on one line (tab-separated, tables
// pretty-printed); every line ends with a newline, and a chunk that
// prints and returns nothing yields "". The chunk runs under the
// config's hook_timeout unless ctx carries its own deadline; a runaway
// chunk is cancelled with an error saying so, and the VM stays usable.
func (v *VM) Eval(ctx context.Context, chunk string) (string, error) {
	limit := v.hookTimeout
	if dl, ok := ctx.Deadline(); ok {
		limit = time.Until(dl).Round(time.Millisecond)
	}
	ctx, cancel := withTimeout(ctx, v.hookTimeout)
	defer cancel()
	var out string
	err := v.run(ctx, "eval chunk", func(L *lua.LState) error {
		var buf strings.Builder
		v.printTo = &buf
		defer func() { v.printTo = nil }()
		fn, err := compileString(L, "return "+chunk, "eval")
		if err != nil {
			if fn, err = compileString(L, chunk, "eval"); err != nil {
				return errors.New(luaMessage(err))
			}
		}
		top := L.GetTop()
		L.Push(fn)
		if err := L.PCall(0, lua.MultRet, v.onError); err != nil {
			if L.Context().Err() != nil {
				return err // run makes it an *Interrupted
			}
			// Keep what it printed before failing. It travels inside the
			// error: after a deadline the caller may already be gone, so
			// this goroutine must not write the caller's variables.
			return &printedError{printed: buf.String(), msg: luaMessage(err)}
		}
		if n := L.GetTop() - top; n > 0 {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = render(L.Get(top+1+i), 0, true, map[*lua.LTable]bool{})
			}
			buf.WriteString(strings.Join(vals, "\t") + "\n")
		}
		L.SetTop(top)
		out = buf.String()
		return nil
	})
	var pe *printedError
	if errors.As(err, &pe) {
		return pe.printed, errors.New(pe.msg)
	}
	var ie *Interrupted
	if errors.As(err, &ie) {
		var be *BudgetError
		if errors.As(ie.Cause, &be) {
			return "", fmt.Errorf("eval: stopped%s: %v", ie.where(), be)
		}
		if ie.Queued != "" {
			return "", fmt.Errorf("eval: not run: the lua vm stayed busy with %s for %s", ie.Queued, limit)
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("eval: cancelled%s: the chunk was still running after %s (a runaway loop?)", ie.where(), limit)
		}
		return "", fmt.Errorf("eval: %w", ie)
	}
	return out, err
}

// maxRenderDepth bounds nested table rendering.
const maxRenderDepth = 8

// render formats a value for the REPL: top-level strings raw, nested ones
// quoted; tables with their array part first, then keys sorted.
func render(v lua.LValue, depth int, top bool, seen map[*lua.LTable]bool) string {
	switch x := v.(type) {
	case lua.LString:
		if top {
			return string(x)
		}
		return fmt.Sprintf("%q", string(x))
	case *lua.LTable:
		return renderTable(x, depth, seen)
	case *lua.LFunction:
		if x.Proto != nil {
			return fmt.Sprintf("function: %s", where(x))
		}
		return "function: builtin"
	}
	return v.String()
}

func renderTable(t *lua.LTable, depth int, seen map[*lua.LTable]bool) string {
	if seen[t] {
		return "<cycle>"
	}
	if depth >= maxRenderDepth {
		return "{...}"
	}
	seen[t] = true
	defer delete(seen, t)
	n := t.Len()
	var items []string
	for i := 1; i <= n; i++ {
		items = append(items, render(t.RawGetInt(i), depth+1, false, seen))
	}
	type kv struct{ k, v string }
	var rest []kv
	t.ForEach(func(k, val lua.LValue) {
		if num, ok := k.(lua.LNumber); ok && float64(num) >= 1 && float64(num) <= float64(n) && float64(num) == float64(int(num)) {
			return
		}
		key := "[" + render(k, depth+1, false, seen) + "]"
		if s, ok := k.(lua.LString); ok && isIdent(string(s)) {
			key = string(s)
		}
		rest = append(rest, kv{key, render(val, depth+1, false, seen)})
	})
	slices.SortFunc(rest, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	for _, e := range rest {
		items = append(items, e.k+" = "+e.v)
	}
	if len(items) == 0 {
		return "{}"
	}
	one := "{ " + strings.Join(items, ", ") + " }"
	if len(one) <= 72 && !strings.Contains(one, "\n") {
		return one
	}
	ind := strings.Repeat("  ", depth+1)
	return "{\n" + ind + strings.Join(items, ",\n"+ind) + ",\n" + strings.Repeat("  ", depth) + "}"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Globals returns the names of the Lua globals, sorted, for completion.
func (v *VM) Globals() []string {
	ctx, cancel := context.WithTimeout(context.Background(), v.hookTimeout)
	defer cancel()
	var names []string
	_ = v.run(ctx, "listing globals", func(L *lua.LState) error {
		L.G.Global.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok && !slices.Contains(sandboxRemoved, string(s)) {
				names = append(names, string(s))
			}
		})
		return nil
	})
	slices.Sort(names)
	return names
}

// printedError is a failed chunk together with what it printed first.
type printedError struct{ printed, msg string }

func (e *printedError) Error() string { return e.msg }
