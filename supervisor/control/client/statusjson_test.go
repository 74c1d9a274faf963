package client

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor/control"
)

// decodeBoth decodes a status reply with decodeStatus and with
// json.Unmarshal; t fails when decodeStatus accepts what Unmarshal does
// not, or decodes it differently. It returns whether decodeStatus took it.
func decodeBoth(t *testing.T, s string) bool {
	t.Helper()
	got, ok := decodeStatus(s)
	var want control.StatusReply
	err := json.Unmarshal([]byte(s), &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("decodeStatus took %q, which json.Unmarshal refuses: %v", s, err)
	}
	if !reflect.DeepEqual(got, want.Processes) {
		t.Fatalf("decodeStatus(%q) =\n%#v\njson.Unmarshal:\n%#v", s, got, want.Processes)
	}
	return true
}

// statusCases are replies decodeStatus must decode as json.Unmarshal does
// (fast true) or leave to it (fast false).
var statusCases = []struct {
	name, reply string
	fast        bool
}{
	{"empty object", `{}`, true},
	{"null processes", `{"processes":null}`, true},
	{"no processes", `{"processes":[]}`, true},
	{"one", `{"processes":[{"name":"a","group":"g","state":20,"statename":"RUNNING","description":"pid 7, uptime 0:00:01","pid":7,"start":1796337701,"stop":0,"now":-1,"exitstatus":0,"spawnerr":"","stdout_logfile":"/l","stderr_logfile":""}]}`, true},
	{"whitespace", " {\n \"processes\" : [ { \"name\" : \"a\" } , {\t\"pid\":\r1 } ] }\n", true},
	{"escapes", `{"processes":[{"name":"a\"b\\c\n\u00e9\ud83d\ude00"}]}`, true},
	{"utf-8", `{"processes":[{"description":"é ✓"}]}`, true},
	{"invalid utf-8", "{\"processes\":[{\"description\":\"a\xffb\"}]}", true},
	{"null fields", `{"processes":[{"name":null,"pid":null}]}`, true},
	{"unknown scalars skipped", `{"v":1,"processes":[{"x":"y","z":-1.5e3,"t":true,"f":false,"n":null,"name":"a"}],"w":"s"}`, true},
	{"duplicate key: last wins", `{"processes":[{"name":"a","name":"b"}]}`, true},
	{"waiting", `{"processes":[{"name":"a","waiting":"db (ready)"}]}`, true},
	{"key differing by case", `{"processes":[{"Name":"a"}]}`, false},
	{"top key differing by case", `{"Processes":[{"name":"a"}]}`, false},
	{"nested unknown", `{"processes":[{"x":{"y":1},"name":"a"}]}`, false},
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
	{"missing comma", `{"processes":[{"name":"a"} {"name":"b"}]}`, false},
	{"trailing garbage", `{"processes":[]} x`, false},
	{"truncated", `{"processes":[{"name":"a"`, false},
	{"unterminated string", `{"processes":[{"name":"a`, false},
	{"not an object", `[]`, false},
	{"processes not an array", `{"processes":{}}`, false},
	{"empty", ``, false},
}

// TestDecodeStatus: decodeStatus decodes the replies it takes exactly as
// json.Unmarshal does, and leaves every other one to it.
func TestDecodeStatus(t *testing.T) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeBoth(t, tc.reply); got != tc.fast {
				t.Fatalf("decodeStatus took it: %v, want %v", got, tc.fast)
			}
		})
	}
	t.Run("fixture", func(t *testing.T) {
		if !decodeBoth(t, string(statusFixture(t, 300))) {
			t.Fatal("decodeStatus refused the daemon's encoding")
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
	got, ok := decodeStatus(string(data))
	if !ok || len(got) != 1 || got[0] != p {
		t.Fatalf("decodeStatus(%s) = %+v, %v", data, got, ok)
	}
}

// TestStatusFallsBack: a reply decodeStatus leaves to json.Unmarshal
// still reaches the caller of Status, decoded.
func TestStatusFallsBack(t *testing.T) {
	var r statusReply
	if err := decodeFast(replyOf(`{"processes":[{"Name":"a","pid":3}]}`), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Processes) != 1 || r.Processes[0].Name != "a" || r.Processes[0].Pid != 3 {
		t.Fatalf("decoded %+v", r.Processes)
	}
	if err := decodeFast(replyOf(`{"processes":[{"pid":"x"}]}`), &r); err == nil {
		t.Fatal("a bad reply decoded without error")
	}
}

// FuzzDecodeStatus: whatever decodeStatus takes, json.Unmarshal takes and
// decodes the same.
func FuzzDecodeStatus(f *testing.F) {
	for _, tc := range statusCases {
		f.Add(tc.reply)
	}
	f.Add(string(statusFixture(f, 3)))
	f.Fuzz(func(t *testing.T, s string) { decodeBoth(t, s) })
}

// replyOf is a sized reply carrying body.
func replyOf(body string) *http.Response {
	return &http.Response{ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body))}
}
