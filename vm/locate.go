package vm

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// gopher-lua keeps no line for a table constructor's fields at run time,
// so a config error is first known at its declaration's line (where
// program, group or daemon was called). When a load fails, locate parses
// the files again and moves each error about an option to the line where
// that option is written. Only a failed load pays for this.

// declIndex maps, for one file, the line of each declaration call to the
// lines of the options written in its table constructor: "name" -> line,
// and "socket.mode" for a field of a sub-table. A line of 0 means two
// declarations on one line write the option on different lines.
type declIndex map[int]map[string]int

// declFuncs are the global functions whose table argument holds options.
var declFuncs = map[string]bool{"program": true, "eventlistener": true, "fcgi_program": true, "group": true, "daemon": true}

// locate moves each ConfigError about an option to the option's line, in
// the files the load ran.
func (v *VM) locate(errs []error) {
	if len(v.sources) == 0 {
		return
	}
	indexes := map[string]declIndex{}
	for _, err := range errs {
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Option == "" {
			continue
		}
		i := strings.LastIndexByte(ce.Pos, ':')
		if i < 0 {
			continue
		}
		file := ce.Pos[:i]
		line, err := strconv.Atoi(ce.Pos[i+1:])
		if err != nil {
			continue
		}
		idx, ok := indexes[file]
		if !ok {
			if src, found := v.sources[file]; found {
				idx = indexDecls(src, file)
			}
			indexes[file] = idx
		}
		if at := idx.line(line, ce.Option); at > 0 {
			ce.Pos = file + ":" + strconv.Itoa(at)
		}
	}
}

// sortByLine orders located ConfigErrors by line within each file; the
// files keep the order in which they first appear.
func sortByLine(errs []error) {
	fileOrder := map[string]int{}
	key := func(err error) (int, int) {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return len(fileOrder), 0
		}
		file, line := ce.Pos, 0
		if i := strings.LastIndexByte(ce.Pos, ':'); i >= 0 {
			file = ce.Pos[:i]
			line, _ = strconv.Atoi(ce.Pos[i+1:])
		}
		if _, ok := fileOrder[file]; !ok {
			fileOrder[file] = len(fileOrder)
		}
		return fileOrder[file], line
	}
	for _, err := range errs {
		key(err)
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		fa, la := key(a)
		fb, lb := key(b)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb))
	})
}

// line returns where option opt of the declaration at line decl is
// written, or 0. A field of a sub-table not found falls back to the
// sub-table ("socket.mode" to "socket").
func (idx declIndex) line(decl int, opt string) int {
	fields := idx[decl]
	for {
		if at, ok := fields[opt]; ok {
			return at
		}
		i := strings.LastIndexByte(opt, '.')
		if i < 0 {
			return 0
		}
		opt = opt[:i]
	}
}

// indexDecls parses src and indexes its declarations: calls such as
// program "x" { ... }, program { name = "x", ... } and daemon { ... }
// written with a table constructor, wherever they are (in loops and
// functions too).
func indexDecls(src []byte, chunkname string) declIndex {
	chunk, err := parse.Parse(bytes.NewReader(src), chunkname)
	if err != nil {
		return nil
	}
	idx := declIndex{}
	walkStmts(chunk, func(call *ast.FuncCallExpr) {
		if len(call.Args) != 1 || !isDeclCall(call.Func) {
			return
		}
		if t, ok := call.Args[0].(*ast.TableExpr); ok {
			idx.add(call.Line(), t, "")
		}
	})
	return idx
}

// isDeclCall reports whether f is a declaration function (program) or a
// call of one with a name (program "x").
func isDeclCall(f ast.Expr) bool {
	if inner, ok := f.(*ast.FuncCallExpr); ok {
		f = inner.Func
	}
	id, ok := f.(*ast.IdentExpr)
	return ok && declFuncs[id.Value]
}

// add records the fields of t under the declaration at line decl, with
// prefix for the fields of a sub-table.
func (idx declIndex) add(decl int, t *ast.TableExpr, prefix string) {
	fields := idx[decl]
	if fields == nil {
		fields = map[string]int{}
		idx[decl] = fields
	}
	for _, f := range t.Fields {
		k, ok := f.Key.(*ast.StringExpr)
		if !ok {
			continue
		}
		name := prefix + k.Value
		if prev, seen := fields[name]; seen && prev != k.Line() {
			fields[name] = 0
		} else {
			fields[name] = k.Line()
		}
		if sub, ok := f.Value.(*ast.TableExpr); ok && prefix == "" {
			idx.add(decl, sub, name+".")
		}
	}
}

// walkStmts calls visit for every function call in stmts, nested ones
// included.
func walkStmts(stmts []ast.Stmt, visit func(*ast.FuncCallExpr)) {
	for _, st := range stmts {
		walkStmt(st, visit)
	}
}

func walkStmt(st ast.Stmt, visit func(*ast.FuncCallExpr)) {
	exprs := func(es []ast.Expr) {
		for _, e := range es {
			walkExpr(e, visit)
		}
	}
	switch s := st.(type) {
	case *ast.AssignStmt:
		exprs(s.Lhs)
		exprs(s.Rhs)
	case *ast.LocalAssignStmt:
		exprs(s.Exprs)
	case *ast.FuncCallStmt:
		walkExpr(s.Expr, visit)
	case *ast.DoBlockStmt:
		walkStmts(s.Stmts, visit)
	case *ast.WhileStmt:
		walkExpr(s.Condition, visit)
		walkStmts(s.Stmts, visit)
	case *ast.RepeatStmt:
		walkStmts(s.Stmts, visit)
		walkExpr(s.Condition, visit)
	case *ast.IfStmt:
		walkExpr(s.Condition, visit)
		walkStmts(s.Then, visit)
		walkStmts(s.Else, visit)
	case *ast.NumberForStmt:
		exprs([]ast.Expr{s.Init, s.Limit, s.Step})
		walkStmts(s.Stmts, visit)
	case *ast.GenericForStmt:
		exprs(s.Exprs)
		walkStmts(s.Stmts, visit)
	case *ast.FuncDefStmt:
		walkExpr(s.Func, visit)
	case *ast.ReturnStmt:
		exprs(s.Exprs)
	}
}

func walkExpr(e ast.Expr, visit func(*ast.FuncCallExpr)) {
	switch x := e.(type) {
	case *ast.FuncCallExpr:
		visit(x)
		walkExpr(x.Func, visit)
		walkExpr(x.Receiver, visit)
		for _, a := range x.Args {
			walkExpr(a, visit)
		}
	case *ast.FunctionExpr:
		walkStmts(x.Stmts, visit)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			walkExpr(f.Key, visit)
			walkExpr(f.Value, visit)
		}
	case *ast.AttrGetExpr:
		walkExpr(x.Object, visit)
		walkExpr(x.Key, visit)
	case *ast.LogicalOpExpr:
		walkExpr(x.Lhs, visit)
		walkExpr(x.Rhs, visit)
	case *ast.RelationalOpExpr:
		walkExpr(x.Lhs, visit)
		walkExpr(x.Rhs, visit)
	case *ast.StringConcatOpExpr:
		walkExpr(x.Lhs, visit)
		walkExpr(x.Rhs, visit)
	case *ast.ArithmeticOpExpr:
		walkExpr(x.Lhs, visit)
		walkExpr(x.Rhs, visit)
	case *ast.UnaryMinusOpExpr:
		walkExpr(x.Expr, visit)
	case *ast.UnaryNotOpExpr:
		walkExpr(x.Expr, visit)
	case *ast.UnaryLenOpExpr:
		walkExpr(x.Expr, visit)
	}
}
