package vm

import (
	"context"
	"errors"
	"regexp"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/stdlib"
	"github.com/tend-sh/tend/vm/supervisordconf"
)

// INIConfig describes a config file that is supervisord's INI: tend runs
// the Lua that tend import writes for it, converted in memory, and every
// position (errors, tend check's sources) names the INI file and line.
type INIConfig struct {
	Files    []string // the INI files read: the config, then its [include]d files
	Warnings []string // what the conversion could not carry over exactly, "file:line: ..."
}

// iniMap maps positions in the Lua converted from an INI config (chunk
// name chunk) back to the INI lines they were written for.
type iniMap struct {
	conf *supervisordconf.Config
	re   *regexp.Regexp // chunk:N
}

func newINIMap(chunk string, conf *supervisordconf.Config) *iniMap {
	return &iniMap{conf: conf, re: regexp.MustCompile(regexp.QuoteMeta(chunk) + `:(\d+)`)}
}

// rewrite replaces every "chunk:N" in s with the INI file:line of Lua line N.
func (m *iniMap) rewrite(s string) string {
	if m == nil {
		return s
	}
	return m.re.ReplaceAllStringFunc(s, func(pos string) string {
		n, _ := strconv.Atoi(m.re.FindStringSubmatch(pos)[1])
		if p, ok := m.conf.At(n); ok {
			return p.String()
		}
		return pos
	})
}

// info is what a Config says of its INI source.
func (m *iniMap) info() *INIConfig {
	out := &INIConfig{Files: m.conf.Files}
	for _, w := range m.conf.Warnings {
		out.Warnings = append(out.Warnings, w.String())
	}
	return out
}

// iniError is a load error whose text names INI positions; it wraps the
// error of the converted Lua, so errors.As still finds what caused it.
type iniError struct {
	msg string
	err error
}

func (e *iniError) Error() string { return e.msg }
func (e *iniError) Unwrap() error { return e.err }

// mapError rewrites err's positions into the INI's.
func (m *iniMap) mapError(err error) error {
	if m == nil || err == nil {
		return err
	}
	return &iniError{msg: m.rewrite(err.Error()), err: err}
}

// compileConfig compiles the config at abs, named v.path in messages: a
// Lua file as it is, a supervisord INI file (recognised by its content,
// whatever its name) converted to Lua first. It returns the map back to
// the INI for the latter, else nil.
func (v *VM) compileConfig(L *lua.LState, abs string) (*lua.LFunction, *iniMap, error) {
	ctx := L.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	src, err := stdlib.ReadFile(ctx, abs, maxSource)
	if err != nil {
		return nil, nil, err
	}
	if !supervisordconf.IsINI(src) {
		v.keepSource(v.path, src)
		proto, err := compileSource(src, v.path)
		if err != nil {
			return nil, nil, err
		}
		return L.NewFunctionFromProto(proto), nil, nil
	}
	conf, err := supervisordconf.Read(v.path, v.opts.Supervisord)
	if err != nil {
		return nil, nil, err
	}
	m := newINIMap(v.path, conf)
	v.keepSource(v.path, []byte(conf.Lua))
	fn, err := compileString(L, conf.Lua, v.path)
	if err != nil {
		// The converter writes valid Lua: this is a bug, and the
		// Lua it wrote is the evidence.
		return nil, nil, errors.Join(m.mapError(err), errors.New("(a bug in tend's conversion of the INI; tend import shows the Lua)"))
	}
	return fn, m, nil
}
