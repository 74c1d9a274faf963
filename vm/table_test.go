package vm

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/vm/supervisordconf"
)

// TestOptionTablesAgree checks vm's side of the program option table
// against supervisor.ProgramOptions: every special decoder names a real
// option, and every option's example decodes into its field. (Defaults
// are checked by TestSampleLoadsWithDefaults, which sets each one.)
func TestOptionTablesAgree(t *testing.T) {
	for name := range programDecoders {
		if _, ok := supervisor.LookupOption(name); !ok {
			t.Errorf("programDecoders has %q, which is not in supervisor.ProgramOptions", name)
		}
	}
	L := lua.NewState()
	defer L.Close()
	for _, o := range supervisor.ProgramOptions {
		text := cmp.Or(o.Default, o.Example)
		if text == "" {
			// Written by hand in the sample (command, events); decoded by
			// code of its own, which other tests exercise.
			if _, ok := programDecoders[o.Name]; !ok {
				t.Errorf("%s has no default, no example and no decoder of its own", o.Name)
			}
			continue
		}
		src := fmt.Sprintf("return %s", luaValue(o.Kind, text))
		if err := L.DoString(src); err != nil {
			t.Fatalf("%s: %s: %v", o.Name, src, err)
		}
		v := L.Get(-1)
		L.Pop(1)
		if o.Name == "user" || o.Name == "socket_owner" {
			continue // resolving a user name needs the user to exist
		}
		s := supervisor.NewSpec("x", "true")
		s.Listener = &supervisor.ListenerSpec{}
		s.Socket = &supervisor.SocketSpec{Mode: -1, Uid: -1, Gid: -1}
		s.Ready = &supervisor.ReadySpec{Notify: true} // watchdog needs it, decoded before it
		r := &resolver{creds: map[string]*syscall.Credential{}, environ: map[string]string{}}
		x := &expander{r: r, d: &programDecl{name: "x"}, group: "x", numprocs: 1}
		if err := r.decodeOption(&s, o, v, x); err != nil {
			t.Errorf("%s = %s: %v", o.Name, src, err)
		}
	}
	for _, o := range daemonOptions {
		text := cmp.Or(o.def, o.example)
		if text == "" {
			// socket and http: tables, written by hand in the sample.
			if o.decode == nil {
				t.Errorf("daemon %s has no default, no example and no decoder of its own", o.name)
			}
			continue
		}
		if err := L.DoString("return " + luaValue(o.kind, text)); err != nil {
			t.Fatalf("daemon %s: %v", o.name, err)
		}
		v := L.Get(-1)
		L.Pop(1)
		d := defaultDaemon(Options{})
		c := &daemonDecoding{el: &errorList{}, vars: map[string]any{}}
		if err := o.set(&d, v, c); err != nil || len(c.el.errs) > 0 {
			t.Errorf("daemon %s = %s: %v %v", o.name, text, err, c.el.errs)
		}
	}
}

// TestSampleListsEveryOption checks that tend init shows every option in
// its block, with its default (or example) and its doc line.
func TestSampleListsEveryOption(t *testing.T) {
	sample := Sample()
	block := func(decl string) string {
		i := regexp.MustCompile(`(?m)^` + decl + `\b`).FindStringIndex(sample)
		if i == nil {
			t.Fatalf("sample has no %s block", decl)
		}
		return blockText(strings.SplitAfter(sample[i[0]:], "\n"))
	}
	check := func(decl string, e sampleEntry) {
		b := block(decl)
		if !regexp.MustCompile(`(?m)^\s*(--\s*)?` + e.name + `\s*=`).MatchString(b) {
			t.Errorf("tend init: %s block lacks %s", decl, e.name)
			return
		}
		if e.def == "" && e.example == "" {
			return // written by hand
		}
		value, prefix := e.def, ""
		if value == "" {
			value, prefix = e.example, `--\s*`
		}
		want := `(?m)^\s*` + prefix + e.name + `\s*= ` + regexp.QuoteMeta(luaValue(e.kind, value)) + `,\s*(-- ` + regexp.QuoteMeta(e.doc) + `)?$`
		m := regexp.MustCompile(want).FindStringSubmatch(b)
		if m == nil || e.doc != "" && m[1] == "" {
			t.Errorf("tend init: %s block has no line matching %s", decl, want)
		}
	}
	for _, decl := range []string{"daemon", "program", "eventlistener"} {
		for _, e := range sampleEntries(decl) {
			check(decl, e)
		}
	}
	for _, h := range hookNames {
		check("program", sampleEntry{name: h})
	}
	if strings.Contains(sample, "@options") {
		t.Error("tend init output still has an @options marker")
	}
}

// TestSampleLoadsWithDefaults loads what tend init prints: it sets every
// option that has a fixed default to that default, so the specs and the
// daemon settings it gives must be the engine's and the loader's own
// defaults. A table default that disagrees with NewSpec fails here.
func TestSampleLoadsWithDefaults(t *testing.T) {
	path := writeConfig(t, map[string]string{"tend.lua": Sample()})
	v, cfg, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("load tend init's sample: %v", err)
	}
	defer v.Close()
	want := supervisor.NewSpec("example", "/bin/cat")
	want.CommandLine, want.HookTimeout = "/bin/cat", supervisor.DefaultHookTimeout
	got := cfg.Specs[slices.IndexFunc(cfg.Specs, func(s supervisor.Spec) bool { return s.Name == "example" })]
	got.Source = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sample's program:\n got %+v\nwant %+v", got, want)
	}
	l := cfg.Specs[slices.IndexFunc(cfg.Specs, func(s supervisor.Spec) bool { return s.Name == "listener" })]
	if l.Listener == nil || l.Listener.BufferSize != supervisor.DefaultBufferSize {
		t.Errorf("sample's eventlistener: %+v", l.Listener)
	}
	if d := defaultDaemon(Options{}); !reflect.DeepEqual(cfg.Daemon, d) {
		t.Errorf("sample's daemon:\n got %+v\nwant %+v", cfg.Daemon, d)
	}
}

// TestUnknownOptionsSuggest checks that a misspelt option of each table
// gets "did you mean" with the right name.
func TestUnknownOptionsSuggest(t *testing.T) {
	var cases []struct{ src, want string }
	add := func(src, name, what string) {
		cases = append(cases, struct{ src, want string }{src,
			fmt.Sprintf(`tend.lua:1: %s: unknown option %q (did you mean %q?)`, what, strings.ToUpper(name), name)})
	}
	for _, o := range supervisor.ProgramOptions {
		if o.Accepts("program") {
			add(fmt.Sprintf(`program "p" { command = "x", %s = 1 }`, strings.ToUpper(o.Name)), o.Name, `program "p"`)
		}
		if o.Accepts("eventlistener") {
			add(fmt.Sprintf(`eventlistener "e" { command = "x", events = "EVENT", %s = 1 }`, strings.ToUpper(o.Name)), o.Name, `eventlistener "e"`)
		}
		if o.Accepts("fcgi_program") {
			add(fmt.Sprintf(`fcgi_program "f" { command = "x", socket = "tcp://127.0.0.1:1", %s = 1 }`, strings.ToUpper(o.Name)), o.Name, `fcgi_program "f"`)
		}
	}
	for _, o := range daemonOptions {
		add(fmt.Sprintf(`daemon { %s = 1 }`, strings.ToUpper(o.name)), o.name, "daemon")
	}
	for _, c := range cases {
		if got := loadError(t, map[string]string{"tend.lua": c.src}); !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
	// A pool option is unknown to a plain program.
	got := loadError(t, map[string]string{"tend.lua": `program "p" { command = "x", buffer_size = 1 }`})
	if !strings.Contains(got, `unknown option "buffer_size"`) {
		t.Errorf("buffer_size in a program: %s", got)
	}
}

// differ changes the value p points at to another of its type.
func differ(t *testing.T, p any) {
	v := reflect.ValueOf(p).Elem()
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64, reflect.Uint32:
		if v.CanInt() {
			v.SetInt(v.Int() + 1)
		} else {
			v.SetUint(v.Uint() + 1)
		}
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	case reflect.Struct:
		differ(t, v.Field(0).Addr().Interface())
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.Set(reflect.Zero(v.Type()))
		}
	default:
		t.Fatalf("differ: no rule for %s", v.Type())
	}
}

// TestDaemonRestartNeeded changes each daemon{} option alone: a reload
// reports it exactly when the table says it needs a restart.
func TestDaemonRestartNeeded(t *testing.T) {
	base := defaultDaemon(Options{})
	base.HTTP = &HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "p"}
	for _, o := range daemonOptions {
		cur := base
		cur.HTTP = &HTTPConfig{}
		*cur.HTTP = *base.HTTP
		differ(t, o.field(&cur))
		got := DaemonRestartNeeded(base, cur)
		var want []string
		if o.restart {
			want = []string{o.name}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s changed: DaemonRestartNeeded = %v, want %v", o.name, got, want)
		}
	}
	cur := base
	cur.Environment = map[string]string{}
	if got := DaemonRestartNeeded(base, cur); len(got) != 0 {
		t.Errorf("empty environment vs none: %v", got)
	}
}

// TestCheckShowsEveryOption changes each program option alone and
// requires tend check's output to change: every option is shown.
func TestCheckShowsEveryOption(t *testing.T) {
	format := func(s supervisor.Spec) string {
		var b strings.Builder
		if err := FormatCheck(&b, &Config{Path: "tend.lua", Specs: []supervisor.Spec{s}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	base := supervisor.NewSpec("x", "true")
	base.Listener = &supervisor.ListenerSpec{Events: []string{"EVENT"}, BufferSize: 10}
	fcgi := supervisor.SocketSpec{URL: "unix:///run/x.sock", Mode: 0o700, Uid: -1, Gid: -1}
	base.Socket = &fcgi
	before := format(base)
	for _, o := range supervisor.ProgramOptions {
		s := base
		s.Command, s.ExitCodes = slices.Clone(base.Command), slices.Clone(base.ExitCodes)
		s.Listener = &supervisor.ListenerSpec{Events: slices.Clone(base.Listener.Events), BufferSize: 10}
		sk := fcgi
		s.Socket = &sk
		p := reflect.ValueOf(o.Field(&s)).Elem()
		switch p.Kind() {
		case reflect.Slice:
			p.Set(reflect.Append(p, reflect.New(p.Type().Elem()).Elem()))
		default:
			differ(t, o.Field(&s))
		}
		if after := format(s); after == before {
			t.Errorf("tend check does not show %s: changing it leaves\n%s", o.Name, after)
		}
	}
}

// TestImporterDaemonOptionsAgree checks that every [supervisord] option
// tend import writes into daemon{} is a daemon{} option of the same kind.
func TestImporterDaemonOptionsAgree(t *testing.T) {
	for name, kind := range supervisordconf.DaemonOptions() {
		i := slices.IndexFunc(daemonOptions, func(o daemonOption) bool { return o.name == name })
		if i < 0 || daemonOptions[i].kind != kind {
			t.Errorf("tend import writes daemon{ %s } of kind %d; vm has it: %v", name, kind, i >= 0)
		}
	}
}

// TestDaemonDefaults pins the daemon{} defaults that defaultDaemon takes
// from the table: supervisord's, and tend's own.
func TestDaemonDefaults(t *testing.T) {
	d := defaultDaemon(Options{})
	if d.LogfileMaxBytes != 50<<20 || d.LogfileBackups != 10 || d.LogLevel != "info" || d.Umask != 0o22 ||
		d.Identifier != "supervisor" || d.Nocleanup || d.Minfds != 1024 || d.HookTimeout != time.Second ||
		!d.Subreaper || d.Socket.Mode != 0o700 || d.HTTP != nil || d.Pidfile != "" || d.Environment != nil {
		t.Errorf("daemon defaults: %+v", d)
	}
	if d := defaultDaemon(Options{HookTimeout: 3 * time.Second}); d.HookTimeout != 3*time.Second {
		t.Errorf("Options.HookTimeout ignored: %v", d.HookTimeout)
	}
}
