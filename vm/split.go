package vm

import (
	"bytes"

	"github.com/yuin/gopher-lua/ast"
)

// splitRun is how many top-level statements one wrapper function holds.
const splitRun = 32

// splitChunk rewrites a chunk's runs of top-level calls and assignments
// into calls of small functions: `program "a" {...} program "b" {...}`
// compiles as `(function() program "a" {...} program "b" {...} end)()`.
// gopher-lua looks a constant up by scanning its function's constants, so
// a file of 1000 literal program blocks, each with its own names and
// commands, compiled in time quadratic in its length; split, each function
// holds a few dozen blocks' constants. The meaning is unchanged: locals
// stay in the chunk (a local statement is never moved) and the wrappers
// reach them as upvalues; lines, and the file named in errors, are the
// statements' own. A chunk that uses ... (the chunk's arguments, which a
// wrapper would not see) is left as it is, and so is one that uses goto,
// whose labels must stay in the same function.
func splitChunk(stmts []ast.Stmt, src []byte) []ast.Stmt {
	if len(stmts) <= splitRun || bytes.Contains(src, []byte("...")) || bytes.Contains(src, []byte("goto")) {
		return stmts
	}
	out := make([]ast.Stmt, 0, len(stmts)/splitRun+8)
	var run []ast.Stmt
	flush := func() {
		if len(run) < 2 {
			out = append(out, run...)
		} else {
			out = append(out, wrapStmts(run))
		}
		run = nil
	}
	for _, st := range stmts {
		switch st.(type) {
		case *ast.FuncCallStmt, *ast.AssignStmt:
			run = append(run, st)
			if len(run) == splitRun {
				flush()
			}
		default:
			flush()
			out = append(out, st)
		}
	}
	flush()
	return out
}

// wrapStmts returns the statement (function() stmts end)().
func wrapStmts(stmts []ast.Stmt) ast.Stmt {
	first, last := stmts[0].Line(), stmts[len(stmts)-1].LastLine()
	fn := &ast.FunctionExpr{ParList: &ast.ParList{Names: []string{}}, Stmts: stmts}
	fn.SetLine(first)
	fn.SetLastLine(last)
	call := &ast.FuncCallExpr{Func: fn}
	call.SetLine(first)
	call.SetLastLine(last)
	st := &ast.FuncCallStmt{Expr: call}
	st.SetLine(first)
	st.SetLastLine(last)
	return st
}
