package vm

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// The program options are declared once, in supervisor.ProgramOptions
// (name, kind, default, doc, live). This file holds the Lua side: when
// each one is decoded and, where the kind alone does not say, how.

// hookNames are the program options holding hooks. They are the config's
// own: the engine sees them only as Spec.Policy.
var hookNames = []string{"on_start", "on_exit", "on_backoff", "on_state", "on_ready"}

// stage says when the resolver decodes an option.
type stage int

const (
	perInstance stage = iota // for each process, after process_name; may be a function of p
	perProgram               // once, before the instances exist: it shapes them
	byHand                   // by resolver code of its own (environment, process_name, events)
)

// programDecoder is how one program option is decoded, when its kind's
// decoder (decodeKind) does not do.
type programDecoder struct {
	stage stage
	// decode sets the option in s from v; nil decodes by kind.
	decode func(r *resolver, s *supervisor.Spec, name string, v lua.LValue, x *expander) error
	// raw hands decode the value as written: decode expands it itself
	// (log_prefix keeps the names the engine fills in per line).
	raw bool
}

// programDecoders are the options that need a stage or a decoder of their
// own. Every other option in supervisor.ProgramOptions is decoded per
// instance by its kind, into its field.
var programDecoders = map[string]programDecoder{
	"process_name":   {stage: byHand},
	"environment":    {stage: byHand},
	"events":         {stage: byHand},
	"numprocs":       {stage: perProgram},
	"numprocs_start": {stage: perProgram},
	"buffer_size": {stage: perProgram, decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Listener.BufferSize, err = decodeInt(name, v, 1)
		return err
	}},
	"hook_timeout": {stage: perProgram, decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.HookTimeout, err = decodeSeconds(name, v, true)
		return err
	}},
	"command": {decode: func(_ *resolver, s *supervisor.Spec, _ string, v lua.LValue, x *expander) (err error) {
		s.Command, s.CommandLine, err = decodeCommand(v, x.expandFunc())
		return err
	}},
	"permanent_exitcodes": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		if t, ok := v.(*lua.LTable); ok && t.Len() == 0 {
			s.PermanentExitCodes = nil // {} is none, unlike exitcodes
			return nil
		}
		s.PermanentExitCodes, err = decodeExitCodes(v)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return err
	}},
	"priority": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Priority, err = decodeInt(name, v, math.MinInt32)
		return err
	}},
	"startretries": {decode: func(_ *resolver, s *supervisor.Spec, _ string, v lua.LValue, _ *expander) (err error) {
		s.StartRetries, err = decodeStartRetries(v)
		return err
	}},
	"user": {decode: func(r *resolver, s *supervisor.Spec, name string, v lua.LValue, x *expander) error {
		u, err := decodeKind(supervisor.KindString, name, v, nil)
		if err != nil || u == "" {
			return err
		}
		s.User = u.(string)
		s.Credential, err = r.credential(s.User)
		return err
	}},
	"log_prefix": {raw: true, decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, x *expander) error {
		raw, err := decodeString(name, v)
		if err != nil {
			return err
		}
		// %(stream)s and %(time)s change per line: the engine fills them
		// in, so they go through the expansion as literal text.
		for _, keep := range []string{supervisor.PrefixStream, supervisor.PrefixTime} {
			raw = strings.ReplaceAll(raw, keep, "%"+keep)
		}
		if s.LogPrefix, err = x.expand(raw); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		return nil
	}},
	"ready": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Ready, err = decodeReady(name, s, v)
		return err
	}},
	"requires": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Requires, err = decodeRequires(name, v)
		return err
	}},
	"socket": {stage: perProgram, decode: decodeFCGISocket},
	"socket_backlog": {stage: perProgram, decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Socket.Backlog, err = decodeBacklog(name, v)
		return err
	}},
	"socket_mode": {stage: perProgram, decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Socket.Mode, err = decodeUmask(name, v)
		return err
	}},
	"socket_owner": {stage: perProgram, decode: func(r *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) error {
		return r.decodeSocketOwner(s.Socket, name, v)
	}},
	"sockets": {stage: perProgram, raw: true, decode: func(r *resolver, s *supervisor.Spec, name string, v lua.LValue, x *expander) error {
		return r.decodeSockets(s, name, v, x)
	}},
	"probe": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Probe, err = decodeProbe(name, s, v)
		return err
	}},
	"watchdog": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) (err error) {
		s.Watchdog, err = decodeWatchdog(name, s, v)
		return err
	}},
	"serverurl": {decode: func(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, x *expander) error {
		u, err := decodeKind(supervisor.KindString, name, v, nil)
		if err == nil {
			if s.ServerURL = u.(string); strings.EqualFold(s.ServerURL, "AUTO") {
				s.ServerURL = ""
			}
		}
		return err
	}},
}

// optionsAt returns the options of a declaration of kind decl ("program",
// "eventlistener" with its pool options, "fcgi_program" with its socket
// options) decoded at stage st, in ProgramOptions order.
func optionsAt(st stage, decl string) []supervisor.Option {
	if opts, ok := stageOptions()[stageDecl{st, decl}]; ok {
		return opts
	}
	return filterOptions(st, decl)
}

// stageDecl keys stageOptions.
type stageDecl struct {
	st   stage
	decl string
}

// stageOptions holds optionsAt's answers, computed once, at the first
// load (not at every start of the binary): a load asks for each
// instance, and 5000 instances made the filtering a tenth of the load.
var stageOptions = sync.OnceValue(func() map[stageDecl][]supervisor.Option {
	out := map[stageDecl][]supervisor.Option{}
	for _, st := range []stage{perInstance, perProgram} {
		for _, decl := range []string{"program", "eventlistener", "fcgi_program"} {
			out[stageDecl{st, decl}] = filterOptions(st, decl)
		}
	}
	return out
})

// filterOptions is optionsAt computed from the option tables.
func filterOptions(st stage, decl string) []supervisor.Option {
	var out []supervisor.Option
	for _, o := range supervisor.ProgramOptions {
		if programDecoders[o.Name].stage == st && o.Accepts(decl) {
			out = append(out, o)
		}
	}
	return out
}

// declOptionNames are the option names of each kind of program
// declaration, sorted for unknown-option suggestions.
var declOptionNames = map[string][]string{
	"program":       optionNames("program"),
	"eventlistener": optionNames("eventlistener"),
	"fcgi_program":  optionNames("fcgi_program"),
}

func optionNames(decl string) []string {
	// "name" names the program in the table form, program { name = "x" }.
	names := append([]string{"name"}, hookNames...)
	for _, o := range supervisor.ProgramOptions {
		if o.Accepts(decl) {
			names = append(names, o.Name)
		}
	}
	slices.Sort(names)
	return names
}

// decodeOption decodes one program option's value into s. A string value
// is expanded first, whatever the option's kind, as supervisord expands
// every value before converting it (numprocs = "%(ENV_WORKERS)s").
func (r *resolver) decodeOption(s *supervisor.Spec, o supervisor.Option, v lua.LValue, x *expander) error {
	d := programDecoders[o.Name]
	if d.raw {
		return d.decode(r, s, o.Name, v, x)
	}
	expand := x.expandFunc()
	v, err := expandValue(o.Name, v, expand)
	if err != nil {
		return err
	}
	if d.decode != nil {
		return d.decode(r, s, o.Name, v, x)
	}
	val, err := decodeKind(o.Kind, o.Name, v, expand)
	if err != nil {
		return err
	}
	return setField(o.Name, o.Field(s), val)
}

// expandValue applies the %(name)s expansions to a string value; other
// values are returned as they are.
func expandValue(name string, v lua.LValue, expand func(string) (string, error)) (lua.LValue, error) {
	str, ok := v.(lua.LString)
	if !ok || expand == nil || !strings.Contains(string(str), "%") {
		return v, nil // most values: nothing to expand, nothing to allocate
	}
	out, err := expand(string(str))
	if err != nil {
		return v, fmt.Errorf("%s: %v", name, err)
	}
	return lua.LString(out), nil
}

// decodeKind decodes a value of kind k with the kind's default rules:
// integers >= 0, durations >= 0. A string value arrives expanded
// (expandValue); expand applies to the strings inside a table value (an
// environment's values).
func decodeKind(k supervisor.Kind, name string, v lua.LValue, expand func(string) (string, error)) (any, error) {
	if expand == nil {
		expand = func(s string) (string, error) { return s, nil }
	}
	switch k {
	case supervisor.KindString:
		return decodeString(name, v)
	case supervisor.KindBool:
		return decodeBool(name, v)
	case supervisor.KindInt:
		return decodeInt(name, v, 0)
	case supervisor.KindSize:
		return decodeSize(name, v)
	case supervisor.KindSeconds:
		return decodeSeconds(name, v, false)
	case supervisor.KindSignal:
		return decodeSignal(name, v)
	case supervisor.KindOctal:
		return decodeUmask(name, v)
	case supervisor.KindAutoRestart:
		return decodeAutoRestart(v)
	case supervisor.KindExitCodes:
		return decodeExitCodes(v)
	case supervisor.KindEnvironment:
		if _, ok := v.(lua.LString); ok {
			return decodeEnvironment(v)
		}
		return decodeExpandedEnvironment(v, expand)
	case supervisor.KindLogFile:
		return decodeLogPath(name, v)
	case supervisor.KindStartLimit:
		return decodeStartLimit(name, v)
	}
	return nil, fmt.Errorf("%s: no decoder for its kind %d", name, k)
}

// setField stores a decoded value through the pointer an option's Field
// gave. A type that does not match is a mistake in the option tables,
// which TestOptionTablesAgree catches.
func setField(name string, field, val any) error {
	p := reflect.ValueOf(field)
	if p.Kind() != reflect.Pointer || p.IsNil() {
		return fmt.Errorf("%s: the option has no field here", name)
	}
	v := reflect.ValueOf(val)
	if v.Type() != p.Elem().Type() {
		return fmt.Errorf("%s: decodes to %s but its field is %s", name, v.Type(), p.Elem().Type())
	}
	p.Elem().Set(v)
	return nil
}

// checkOptionNames reports the keys of a program{}, eventlistener{} or
// fcgi_program{} table that are no option of it.
func checkOptionNames(t *lua.LTable, decl string, el *errorList) {
	known := declOptionNames[decl]
	for _, k := range tableKeys(t) {
		ks, ok := k.(lua.LString)
		if !ok {
			el.add(fmt.Errorf("unexpected value at index %s: options are written name = value", k.String()))
		} else if _, found := slices.BinarySearch(known, string(ks)); !found {
			el.at(string(ks), errors.New(unknownOption(string(ks), known)))
		}
	}
}
