package stdlib

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// maxJSONDepth bounds nesting in both directions (and catches cycles).
const maxJSONDepth = 100

// loadJSON is the loader of the json module: encode(v [, indent]) and decode(s).
func loadJSON(L *lua.LState) int {
	L.Push(newModule(L, map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			var buf bytes.Buffer
			if err := encodeJSON(&buf, L.CheckAny(1), 0); err != nil {
				L.RaiseError("json.encode: %v", err)
			}
			out := buf.Bytes()
			if indent := L.OptString(2, ""); indent != "" {
				var ib bytes.Buffer
				if err := json.Indent(&ib, out, "", indent); err != nil {
					L.RaiseError("json.encode: %v", err)
				}
				out = ib.Bytes()
			}
			L.Push(lua.LString(out))
			return 1
		},
		"decode": func(L *lua.LState) int {
			dec := json.NewDecoder(bytes.NewReader([]byte(L.CheckString(1))))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				L.RaiseError("json.decode: %v", err)
			}
			if dec.More() {
				L.RaiseError("json.decode: trailing data after the value")
			}
			L.Push(toLua(L, v))
			return 1
		},
	}))
	return 1
}

// encodeJSON writes v as JSON. A table whose keys are exactly 1..n (n > 0)
// is an array; any other table is an object with sorted string keys.
func encodeJSON(buf *bytes.Buffer, v lua.LValue, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("nesting deeper than %d (a cycle?)", maxJSONDepth)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		buf.WriteString("null")
	case lua.LBool:
		buf.WriteString(strconv.FormatBool(bool(x)))
	case lua.LNumber:
		f := float64(x)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("cannot encode %v", f)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			buf.WriteString(strconv.FormatInt(int64(f), 10))
		} else {
			buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case lua.LString:
		b, _ := json.Marshal(string(x))
		buf.Write(b)
	case *lua.LTable:
		return encodeTable(buf, x, depth)
	default:
		return fmt.Errorf("cannot encode a %s", v.Type())
	}
	return nil
}

func encodeTable(buf *bytes.Buffer, t *lua.LTable, depth int) error {
	n, keys, count := t.Len(), []string{}, 0
	var bad error
	t.ForEach(func(k, _ lua.LValue) {
		count++
		switch kk := k.(type) {
		case lua.LString:
			keys = append(keys, string(kk))
		case lua.LNumber:
			if count > n || float64(kk) != math.Trunc(float64(kk)) {
				keys = append(keys, kk.String())
			}
		default:
			bad = fmt.Errorf("cannot encode a table key of type %s", k.Type())
		}
	})
	if bad != nil {
		return bad
	}
	if n > 0 && count == n {
		buf.WriteByte('[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				buf.WriteByte(',')
			}
			if err := encodeJSON(buf, t.RawGetInt(i), depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	keys = keys[:0]
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, lua.LVAsString(k)) })
	slices.Sort(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		val := t.RawGetString(k)
		if val == lua.LNil {
			if f, err := strconv.ParseFloat(k, 64); err == nil {
				val = t.RawGet(lua.LNumber(f))
			}
		}
		if err := encodeJSON(buf, val, depth+1); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// toLua converts a decoded JSON value; null becomes nil.
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case json.Number:
		f, _ := x.Float64()
		return lua.LNumber(f)
	case string:
		return lua.LString(x)
	case []any:
		t := L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	return lua.LNil
}
