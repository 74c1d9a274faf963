package supervisor

import (
	"reflect"
	"slices"
	"testing"
)

// derivedFields are the Spec fields no option points at: they are
// computed by the loader from options (CommandLine from command,
// Credential from user, Num from numprocs_start, Program and Group from
// the declarations) or are bookkeeping that update copies itself.
var derivedFields = []string{"Program", "Group", "Num", "CommandLine", "GroupPriority", "Credential",
	"Listener", "Socket", "Policy", "Source", "Socket.Name", "Socket.Uid", "Socket.Gid"}

// TestEveryFieldHasAnOption fails when a Spec field is added without an
// entry in ProgramOptions (or a reason in derivedFields): the field would
// be invisible to reread, tend check and the sample config.
func TestEveryFieldHasAnOption(t *testing.T) {
	s := NewSpec("x", "true")
	s.Listener = &ListenerSpec{}
	s.Socket = &SocketSpec{}
	pointed := map[uintptr]string{}
	for _, o := range ProgramOptions {
		p := reflect.ValueOf(o.Field(&s))
		if p.Kind() != reflect.Pointer || p.IsNil() {
			t.Fatalf("option %s: Field returns %v, want a pointer into the spec", o.Name, p)
		}
		pointed[p.Pointer()] = o.Name
	}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			if slices.Contains(derivedFields, name) {
				continue
			}
			if _, ok := pointed[f.Addr().Pointer()]; ok {
				continue
			}
			switch {
			case f.Kind() == reflect.Struct && f.Type() == reflect.TypeFor[LogSpec]():
				walk(f, name+".")
			case name == "Listener":
				walk(f.Elem(), name+".")
			default:
				t.Errorf("Spec.%s is no option's Field: add it to ProgramOptions (or to derivedFields)", name)
			}
		}
	}
	walk(reflect.ValueOf(&s).Elem(), "")
	walk(reflect.ValueOf(s.Listener).Elem(), "Listener.")
	walk(reflect.ValueOf(s.Socket).Elem(), "Socket.")
}

func TestOptionNamesUnique(t *testing.T) {
	names, infos := map[string]bool{}, map[string]bool{}
	for _, o := range ProgramOptions {
		if names[o.Name] || o.ConfigInfo != "" && infos[o.ConfigInfo] {
			t.Errorf("option %s (ConfigInfo %q) declared twice", o.Name, o.ConfigInfo)
		}
		names[o.Name], infos[o.ConfigInfo] = true, true
		if o.Live && o.Listener {
			t.Errorf("option %s: a listener option cannot be live (copyLive skips a spec without Listener)", o.Name)
		}
		if got, ok := LookupOption(o.Name); !ok || got.Name != o.Name {
			t.Errorf("LookupOption(%q) = %v, %v", o.Name, got.Name, ok)
		}
	}
	if _, ok := LookupOption("bogus"); ok {
		t.Error("LookupOption(bogus) found an option")
	}
}

// differ changes the value v points at to another value of its type.
func differ(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
	case reflect.Struct:
		differ(t, v.Field(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("K"), reflect.ValueOf("v"))
		v.Set(m)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	default:
		t.Fatalf("differ: no rule for %s", v.Type())
	}
}

// TestSpecDiffAndLive changes each option alone: reread names it and
// update restarts the process for it, unless it is live, when Equal holds
// and copyLive carries the new value.
func TestSpecDiffAndLive(t *testing.T) {
	for _, o := range ProgramOptions {
		a := NewSpec("x", "true")
		a.Listener = &ListenerSpec{Events: []string{"EVENT"}, BufferSize: 10}
		a.Socket = &SocketSpec{URL: "unix:///x", Mode: 0o700, Uid: -1, Gid: -1}
		b := a
		b.Listener = &ListenerSpec{Events: slices.Clone(a.Listener.Events), BufferSize: 10}
		sk := *a.Socket
		b.Socket = &sk
		b.ExitCodes = slices.Clone(a.ExitCodes)
		differ(t, reflect.ValueOf(o.Field(&b)).Elem())
		diff := specDiff(a, b)
		if o.Live {
			if len(diff) != 0 || !a.Equal(b) {
				t.Errorf("live option %s: specDiff = %v, Equal = %v; want none, true", o.Name, diff, a.Equal(b))
			}
			a.copyLive(&b)
			if !reflect.DeepEqual(o.Value(&a), o.Value(&b)) {
				t.Errorf("live option %s: copyLive left %v, want %v", o.Name, o.Value(&a), o.Value(&b))
			}
			continue
		}
		if !slices.Equal(diff, []string{o.Name}) || a.Equal(b) {
			t.Errorf("option %s: specDiff = %v, Equal = %v; want [%s], false", o.Name, diff, a.Equal(b), o.Name)
		}
	}
}

func TestEqualIgnoresEmptyEnvironment(t *testing.T) {
	a, b := NewSpec("x", "true"), NewSpec("x", "true")
	b.Environment = map[string]string{}
	if !a.Equal(b) || len(specDiff(a, b)) != 0 {
		t.Errorf("nil and empty environment differ: %v", specDiff(a, b))
	}
}
