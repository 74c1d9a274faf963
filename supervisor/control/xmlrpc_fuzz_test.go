package control

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzXMLRPCRequest feeds arbitrary bodies to the request parser. It must
// never panic, and whatever it accepts must survive a round trip through
// the encoder: the re-encoded call parses again to the same method and the
// same number of parameters (so the encoder never emits invalid XML).
func FuzzXMLRPCRequest(f *testing.F) {
	seeds := []string{
		string(xrtRequest("supervisor.getState")),
		string(xrtRequest("supervisor.startProcess", "web:web_00", true)),
		string(xrtRequest("supervisor.readProcessStdoutLog", "app", int64(-1600), int64(0))),
		string(xrtRequest("system.multicall", []any{
			xrStruct{{"methodName", "supervisor.getPID"}, {"params", []any{}}},
			xrStruct{{"methodName", "supervisor.getProcessInfo"}, {"params", []any{"x"}}},
		})),
		`<?xml version="1.0"?><methodCall><methodName>a.b</methodName><params><param><value>bare</value></param></params></methodCall>`,
		`<methodCall><methodName>x</methodName><params><param><value><double>1.5</double></value></param>` +
			`<param><value><base64>aGk=</base64></value></param><param><value><dateTime.iso8601>20260101T00:00:00</dateTime.iso8601></value></param>` +
			`<param><value><nil/></value></param><param><value><i4>7</i4></value></param></params></methodCall>`,
		`<methodCall><methodName>x</methodName><params><param><value><array><data><value><array><data></data></array></value></data></array></value></param></params></methodCall>`,
		`<methodCall><methodName>x</methodName>`,
		`<methodCall><methodName>x</methodName><params><param><value><int>notanint</int></value></param></params></methodCall>`,
		`<!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall><methodName>&a;</methodName></methodCall>`,
		`<methodCall><methodName>x</methodName></methodCall><extra/>`,
		strings.Repeat("<value><array><data>", 40),
		"",
		"\x00\xff",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call, err := xrParseRequest(bytes.NewReader(body))
		if err != nil {
			return
		}
		if call.Method == "" {
			t.Fatalf("accepted a call without a method: %q", body)
		}
		again, err := xrParseRequest(bytes.NewReader(xrtRequest(call.Method, call.Params...)))
		if err != nil {
			t.Fatalf("re-encoded call does not parse: %v\ninput %q", err, body)
		}
		if again.Method != strings.TrimSpace(xrtEscaped(call.Method)) && again.Method != call.Method || len(again.Params) != len(call.Params) {
			t.Fatalf("round trip changed the call: %q %d -> %q %d", call.Method, len(call.Params), again.Method, len(again.Params))
		}
	})
}

// xrtEscaped is s as it reads back after xrEscapeText (invalid characters
// become U+FFFD).
func xrtEscaped(s string) string {
	var b bytes.Buffer
	xrEscapeText(&b, s)
	call, err := xrParseRequest(strings.NewReader("<methodCall><methodName>" + b.String() + "</methodName></methodCall>"))
	if err != nil {
		return s
	}
	return call.Method
}
