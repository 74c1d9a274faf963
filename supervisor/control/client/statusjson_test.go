package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tend-sh/tend/internal/testkit"
	"github.com/tend-sh/tend/supervisor/control"
)

// decodeAll decodes a status reply from r with decodeStatus through a
// window of size bytes.
func decodeAll(r io.Reader, size int) ([]control.ProcessInfo, error) {
	var procs []control.ProcessInfo
	err := decodeStatusWindow(r, size, func(p control.ProcessInfo) { procs = append(procs, p) })
	return procs, err
}

// decodeBoth decodes a status reply with decodeStatus, through its window
// and through windows that end everywhere, read a byte at a time, and
// with json.Unmarshal; t fails when decodeStatus takes what Unmarshal
// does not, decodes it differently, or decodes it differently through
// another window. It returns whether decodeStatus took it.
func decodeBoth(t *testing.T, s string) bool {
	t.Helper()
	got, err := decodeAll(strings.NewReader(s), statusWindow)
	for _, size := range []int{1, 2, 3, 7} {
		other, otherErr := decodeAll(iotest.OneByteReader(strings.NewReader(s)), size)
		if (err == nil) != (otherErr == nil) || !reflect.DeepEqual(got, other) {
			t.Fatalf("decodeStatus(%q): %v, %v; through a window of %d: %v, %v", s, got, err, size, other, otherErr)
		}
	}
	if err != nil {
		if !errors.Is(err, errStatusReply) {
			t.Fatalf("decodeStatus(%q): %v, not an errStatusReply", s, err)
		}
		return false
	}
	var want control.StatusReply
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("decodeStatus took %q, which json.Unmarshal refuses: %v", s, err)
	}
	if len(got) != len(want.Processes) || len(got) > 0 && !reflect.DeepEqual(got, want.Processes) {
		t.Fatalf("decodeStatus(%q) =\n%#v\njson.Unmarshal:\n%#v", s, got, want.Processes)
	}
	return true
}

// statusCases are replies decodeStatus must decode as json.Unmarshal does
// (ok true) or refuse (ok false).
var statusCases = []struct {
	name, reply string
	ok          bool
}{
	{"empty object", `{}`, true},
	{"null processes", `{"processes":null}`, true},
	{"no processes", `{"processes":[]}`, true},
	{"one", `{"processes":[{"name":"a","group":"g","state":20,"statename":"RUNNING","description":"pid 7, uptime 0:00:01","pid":7,"start":1796337701,"stop":0,"now":-1,"exitstatus":0,"spawnerr":"","stdout_logfile":"/l","stderr_logfile":""}]}`, true},
	{"whitespace", " {\n \"processes\" : [ { \"name\" : \"a\" } , {\t\"pid\":\r1 } ] }\n", true},
	{"empty process", `{"processes":[{},{ }]}`, true},
	{"escapes", `{"processes":[{"name":"a\"b\\c\n\u00e9\ud83d\ude00"}]}`, true},
	{"utf-8", `{"processes":[{"description":"é ✓"}]}`, true},
	{"invalid utf-8", "{\"processes\":[{\"description\":\"a\xffb\"}]}", true},
	{"null fields", `{"processes":[{"name":null,"pid":null}]}`, true},
	{"unknown values skipped", `{"v":{"a":[1,{"b":null}],"c":"}"},"processes":[{"x":"y","z":-1.5e3,"t":true,"f":false,"n":null,"o":{"p":[]},"a":[1,"]"],"name":"a"}],"w":"s"}`, true},
	{"duplicate key: last wins", `{"processes":[{"name":"a","name":"b"}]}`, true},
	{"shared group", `{"processes":[{"group":"g","name":"a"},{"group":"g","name":"b"},{"group":"h","name":"c"}]}`, true},
	{"every state", `{"processes":[{"statename":"RUNNING"},{"statename":"STOPPED"},{"statename":"FATAL"},{"statename":"NEW"}]}`, true},
	{"waiting", `{"processes":[{"name":"a","waiting":"db (ready)"}]}`, true},
	{"number at the top", `{"v":12345,"processes":[],"w":-0.5e-7}`, true},
	{"processes twice", `{"processes":[{"name":"a"}],"processes":[]}`, false},
	{"key differing by case", `{"processes":[{"Name":"a"}]}`, false},
	{"top key differing by case", `{"Processes":[{"name":"a"}]}`, false},
	{"fraction for int", `{"processes":[{"pid":1.5}]}`, false},
	{"exponent for int", `{"processes":[{"pid":1e3}]}`, false},
	{"string for int", `{"processes":[{"pid":"1"}]}`, false},
	{"int for string", `{"processes":[{"name":1}]}`, false},
	{"int overflow", `{"processes":[{"start":99999999999999999999}]}`, false},
	{"leading zero", `{"processes":[{"pid":01}]}`, false},
	{"control char in string", "{\"processes\":[{\"name\":\"a\tb\"}]}", false},
	{"bad escape", `{"processes":[{"name":"a\qb"}]}`, false},
	{"trailing comma", `{"processes":[{"name":"a"},]}`, false},
	{"trailing comma in object", `{"processes":[{"name":"a",}]}`, false},
	{"trailing comma at top", `{"processes":[],}`, false},
	{"leading comma", `{"processes":[,{"name":"a"}]}`, false},
	{"missing comma", `{"processes":[{"name":"a"} {"name":"b"}]}`, false},
	{"missing colon", `{"processes" []}`, false},
	{"trailing garbage", `{"processes":[]} x`, false},
	{"two replies", `{}{}`, false},
	{"truncated", `{"processes":[{"name":"a"`, false},
	{"truncated number", `{"processes":[{"pid":12`, false},
	{"unterminated string", `{"processes":[{"name":"a`, false},
	{"not an object", `[]`, false},
	{"processes not an array", `{"processes":{}}`, false},
	{"unclosed skipped value", `{"x":[1,2}`, false},
	{"too deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false},
	{"empty", ``, false},
}

// TestDecodeStatus: decodeStatus decodes the replies it takes exactly as
// json.Unmarshal does, wherever its window ends, and refuses the others.
func TestDecodeStatus(t *testing.T) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeBoth(t, tc.reply); got != tc.ok {
				t.Fatalf("decodeStatus took it: %v, want %v", got, tc.ok)
			}
		})
	}
	t.Run("daemon's encoding", func(t *testing.T) {
		if !decodeBoth(t, string(statusFixture(t, 300))) {
			t.Fatal("decodeStatus refused the daemon's encoding")
		}
	})
	t.Run("a process larger than the window", func(t *testing.T) {
		big := strings.Repeat("x", 3*statusWindow)
		if !decodeBoth(t, `{"processes":[{"name":"a"},{"description":"`+big+`","x":"`+big+`"},{"name":"b"}]}`) {
			t.Fatal("decodeStatus refused it")
		}
	})
}

// TestDecodeStatusEveryField: a reply with every field of ProcessInfo set
// decodes whole, so a field added to the wire type without a case in
// decodeStatus (which would skip it) fails here.
func TestDecodeStatusEveryField(t *testing.T) {
	var p control.ProcessInfo
	v := reflect.ValueOf(&p).Elem()
	var tags []string
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("s" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(100 + i))
		default:
			t.Fatalf("field %s: decodeStatus has no case for a %s", v.Type().Field(i).Name, f.Kind())
		}
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		tags = append(tags, tag)
	}
	if !slices.Equal(tags, processFields) {
		t.Errorf("ProcessInfo's keys %q, processFields %q", tags, processFields)
	}
	data, err := json.Marshal(control.StatusReply{Processes: []control.ProcessInfo{p}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeAll(strings.NewReader(string(data)), statusWindow)
	if err != nil || len(got) != 1 || got[0] != p {
		t.Fatalf("decodeStatus(%s) = %+v, %v", data, got, err)
	}
}

// TestDecodeStatusReadError: a reply cut short by a failed read is that
// error, not a decoding error or a shorter list.
func TestDecodeStatusReadError(t *testing.T) {
	cut := errors.New("connection reset")
	data := statusFixture(t, 50)
	r := io.MultiReader(strings.NewReader(string(data[:len(data)/2])), iotest.ErrReader(cut))
	if procs, err := decodeAll(r, statusWindow); !errors.Is(err, cut) {
		t.Fatalf("decoded %d processes, %v; want %v", len(procs), err, cut)
	}
}

// FuzzDecodeStatus: whatever decodeStatus takes, json.Unmarshal takes and
// decodes the same, and the window's ends change nothing.
func FuzzDecodeStatus(f *testing.F) {
	for _, tc := range statusCases {
		f.Add(tc.reply)
	}
	f.Add(string(statusFixture(f, 3)))
	f.Fuzz(func(t *testing.T, s string) { decodeBoth(t, s) })
}

// TestEachStatus: EachStatus hands on every process of a daemon, in the
// order and with the fields Status returns.
func TestEachStatus(t *testing.T) {
	c, _ := serve(t, nil, idle("a", "a"), idle("grp", "x"), idle("grp", "y"))
	want, err := c.Status(context.Background())
	if err != nil || len(want) != 3 {
		t.Fatalf("Status = %v, %v", want, err)
	}
	var got []control.ProcessInfo
	if err := c.EachStatus(context.Background(), func(p control.ProcessInfo) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EachStatus gave %+v, Status %+v", got, want)
	}
}

// TestStatusBadReply: a reply that is not a status reply is an error of
// Status that says so, not an empty list.
func TestStatusBadReply(t *testing.T) {
	sock := testkit.ServeUnix(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"processes":[{"name":1}]}`)
	}))
	c, err := New("unix://"+sock, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if infos, err := c.Status(context.Background()); !errors.Is(err, errStatusReply) || infos != nil {
		t.Fatalf("Status = %v, %v; want errStatusReply", infos, err)
	}
}
