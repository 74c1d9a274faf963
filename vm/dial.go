package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/vm/supervisordconf"
)

// ErrUnparsed is wrapped by ReadDialInfo's error for a config that does
// not parse; the DialInfo it returns then holds the socket path written
// literally as socket = { path = "..." }, if any, found by its text.
var ErrUnparsed = errors.New("config does not parse")

// socketText finds a literal socket path in a config's text.
var socketText = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`socket\s*=\s*\{[^}]*\bpath\s*=\s*["']([^"']+)["']`)
})

func readAll(path string) []byte {
	data, _ := os.ReadFile(path) // the file was just opened; failing now finds nothing
	return data
}

// DialInfo is what a client needs from a config to reach its daemon.
type DialInfo struct {
	Socket string      // the control socket's path
	HTTP   *HTTPConfig // daemon{ http = {...} }, nil when absent
	// Ctl is the [supervisorctl] section of a supervisord INI config:
	// the daemon and credentials supervisorctl would use. nil otherwise.
	Ctl *supervisordconf.Ctl
}

// DefaultSocket is the control socket of a config that names none:
// /run/tend.sock for root, /tmp/tend-<uid>.sock for anyone else.
func DefaultSocket() string {
	if uid := os.Getuid(); uid != 0 {
		return fmt.Sprintf("/tmp/tend-%d.sock", uid)
	}
	return "/run/tend.sock"
}

// ReadDialInfo reads where the daemon of the config at path listens
// without running the config: the CLI must not run every option function
// and user lookup of a config just to find a socket. It parses the file
// and reads the literal strings of the top-level daemon{} declaration's
// socket.path and http table, expanding %(here)s and %(ENV_X)s as the
// daemon does. A daemon{} that computes them (or that lives in an included
// file) cannot be read this way: a computed value is an error naming its
// line, an absent declaration gives the defaults, and -s names the daemon
// in either case.
func ReadDialInfo(path string) (DialInfo, error) {
	info := DialInfo{Socket: DefaultSocket()}
	abs, err := filepath.Abs(path)
	if err != nil {
		return info, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return info, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	if supervisordconf.IsINI(readAll(abs)) {
		return readINIDialInfo(path, info)
	}
	chunk, err := parse.Parse(f, path)
	if err != nil {
		// A config being edited must not keep the CLI from its daemon
		// (reread is how the error gets reported): find a literal socket
		// path by its text.
		if m := socketText().FindSubmatch(readAll(abs)); m != nil {
			info.Socket = string(m[1])
		}
		return info, fmt.Errorf("%w: %s: %v", ErrUnparsed, path, err)
	}
	decl := findDaemonDecl(chunk)
	if decl == nil {
		return info, nil
	}
	r := dialReader{path: path, vars: map[string]any{"here": filepath.Dir(abs)}}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			r.vars["ENV_"+k] = v
		}
	}
	if sock := field(decl, "socket"); sock != nil {
		if p := r.table("socket", sock).str("path"); p != "" {
			info.Socket = r.expand(p)
		}
	}
	if h := field(decl, "http"); h != nil {
		if t := r.table("http", h); t.t != nil {
			info.HTTP = &HTTPConfig{Listen: t.str("listen"), Username: t.str("username"), Password: t.str("password")}
		}
	}
	return info, r.err
}

// findDaemonDecl returns the table of the last top-level `daemon {...}`
// statement (also inside do ... end blocks), or nil.
func findDaemonDecl(stmts []ast.Stmt) *ast.TableExpr {
	var found *ast.TableExpr
	for _, st := range stmts {
		switch s := st.(type) {
		case *ast.DoBlockStmt:
			if t := findDaemonDecl(s.Stmts); t != nil {
				found = t
			}
		case *ast.FuncCallStmt:
			call, ok := s.Expr.(*ast.FuncCallExpr)
			if !ok || len(call.Args) != 1 {
				continue
			}
			if id, ok := call.Func.(*ast.IdentExpr); ok && id.Value == "daemon" {
				if t, ok := call.Args[0].(*ast.TableExpr); ok {
					found = t
				}
			}
		}
	}
	return found
}

// field returns the value of name = value in a table constructor.
func field(t *ast.TableExpr, name string) ast.Expr {
	for _, f := range t.Fields {
		if k, ok := f.Key.(*ast.StringExpr); ok && k.Value == name {
			return f.Value
		}
	}
	return nil
}

// dialReader reads literal values, keeping the first error.
type dialReader struct {
	path string
	vars map[string]any
	err  error
}

func (r *dialReader) fail(e ast.Expr, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s:%d: %s; give the daemon with -s", r.path, e.Line(), fmt.Sprintf(format, args...))
	}
}

// literalTable is a table constructor being read, or nil.
type literalTable struct {
	r    *dialReader
	name string
	t    *ast.TableExpr
}

func (r *dialReader) table(name string, e ast.Expr) literalTable {
	t, ok := e.(*ast.TableExpr)
	if !ok {
		if _, isFalse := e.(*ast.FalseExpr); !isFalse {
			r.fail(e, "daemon{} %s is not written as a literal table", name)
		}
	}
	return literalTable{r: r, name: name, t: t}
}

// str returns the literal string of a field, "" when absent.
func (lt literalTable) str(name string) string {
	if lt.t == nil {
		return ""
	}
	v := field(lt.t, name)
	if v == nil {
		return ""
	}
	s, ok := v.(*ast.StringExpr)
	if !ok {
		lt.r.fail(v, "daemon{} %s.%s is computed, not a literal string", lt.name, name)
		return ""
	}
	return s.Value
}

func (r *dialReader) expand(s string) string {
	out, err := supervisor.Expand(s, r.vars)
	if err != nil && r.err == nil {
		r.err = errors.New(r.path + ": socket.path: " + err.Error())
	}
	return out
}

// readINIDialInfo is ReadDialInfo for a supervisord INI config: the
// socket of [unix_http_server], the listener of [inet_http_server] and
// the [supervisorctl] section.
func readINIDialInfo(path string, info DialInfo) (DialInfo, error) {
	c, err := supervisordconf.ReadClient(path)
	if err != nil {
		return info, err
	}
	if c.Socket != "" {
		info.Socket = c.Socket
	}
	if h := c.HTTP; h != nil {
		info.HTTP = &HTTPConfig{Listen: h.Listen, Username: h.Username, Password: h.Password}
	}
	info.Ctl = c.Ctl
	return info, nil
}
