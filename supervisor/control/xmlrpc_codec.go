package control

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tend-sh/tend/supervisor"
)

// This file is the XML-RPC wire format: a strict request parser built on
// encoding/xml's token stream (bounded nesting, no reflection, no dynamic
// dispatch) and a response encoder producing what Python's xmlrpc.client
// (supervisorctl) expects.

// maxXMLRPCDepth bounds the nesting of arrays and structs in a request, so
// a hostile body cannot make the parser recurse deeply.
const maxXMLRPCDepth = 32

// xrStruct is an XML-RPC struct whose members keep their order, as
// supervisord's dicts do on the wire.
type xrStruct []xrMember

// xrMember is one member of an xrStruct.
type xrMember struct {
	Name  string
	Value any
}

// get returns the value of the member named name.
func (s xrStruct) get(name string) (any, bool) {
	for _, m := range s {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// xrCall is a parsed methodCall. Param values are int64, bool, string,
// float64, time.Time, []byte (base64), nil, []any or xrStruct.
type xrCall struct {
	Method string
	Params []any
}

// xrParseRequest parses a methodCall document. Any deviation from the
// XML-RPC grammar is an error; it never panics.
func xrParseRequest(r io.Reader) (xrCall, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var call xrCall
	root, err := xrNextStart(d)
	if err != nil {
		return call, fmt.Errorf("parse request: %w", err)
	}
	if root.Name.Local != "methodCall" {
		return call, fmt.Errorf("parse request: root element is <%s>, want <methodCall>", root.Name.Local)
	}
	sawName := false
	for {
		tok, err := xrNextElementToken(d)
		if err != nil {
			return call, fmt.Errorf("parse request: %w", err)
		}
		if _, ok := tok.(xml.EndElement); ok {
			break
		}
		se := tok.(xml.StartElement)
		switch se.Name.Local {
		case "methodName":
			if sawName {
				return call, errors.New("parse request: two <methodName> elements")
			}
			sawName = true
			if call.Method, err = xrReadText(d); err != nil {
				return call, fmt.Errorf("parse request: methodName: %w", err)
			}
			call.Method = strings.TrimSpace(call.Method)
		case "params":
			if call.Params, err = xrParseParams(d); err != nil {
				return call, fmt.Errorf("parse request: %w", err)
			}
		default:
			return call, fmt.Errorf("parse request: unexpected <%s> in <methodCall>", se.Name.Local)
		}
	}
	if call.Method == "" {
		return call, errors.New("parse request: no method name")
	}
	// Only whitespace, comments and processing instructions may follow.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return call, nil
		}
		if err != nil {
			return call, fmt.Errorf("parse request: %w", err)
		}
		if !xrIgnorable(tok) {
			return call, errors.New("parse request: content after </methodCall>")
		}
	}
}

// xrIgnorable reports whether tok carries nothing between elements.
func xrIgnorable(tok xml.Token) bool {
	switch t := tok.(type) {
	case xml.CharData:
		return len(bytes.TrimSpace(t)) == 0
	case xml.Comment, xml.ProcInst, xml.Directive:
		return true
	}
	return false
}

// xrNextStart returns the first start element, skipping the prolog.
func xrNextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
		if !xrIgnorable(tok) {
			return xml.StartElement{}, errors.New("text before the root element")
		}
	}
}

// xrNextElementToken returns the next start or end element, rejecting text
// between elements.
func xrNextElementToken(d *xml.Decoder) (xml.Token, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch tok.(type) {
		case xml.StartElement, xml.EndElement:
			return tok, nil
		}
		if !xrIgnorable(tok) {
			return nil, errors.New("unexpected text between elements")
		}
	}
}

// xrReadText returns the character data of the current element up to its
// end; a child element is an error.
func xrReadText(d *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", fmt.Errorf("unexpected <%s> in text", t.Name.Local)
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

func xrParseParams(d *xml.Decoder) ([]any, error) {
	params := []any{}
	for {
		tok, err := xrNextElementToken(d)
		if err != nil {
			return nil, err
		}
		if _, ok := tok.(xml.EndElement); ok {
			return params, nil
		}
		if se := tok.(xml.StartElement); se.Name.Local != "param" {
			return nil, fmt.Errorf("unexpected <%s> in <params>", se.Name.Local)
		}
		v, err := xrParseWrapped(d, 0)
		if err != nil {
			return nil, err
		}
		params = append(params, v)
	}
}

// xrParseWrapped parses the single <value> inside the current element (a
// param or an array data slot) and its closing tag.
func xrParseWrapped(d *xml.Decoder, depth int) (any, error) {
	tok, err := xrNextElementToken(d)
	if err != nil {
		return nil, err
	}
	se, ok := tok.(xml.StartElement)
	if !ok || se.Name.Local != "value" {
		return nil, errors.New("missing <value>")
	}
	v, err := xrParseValue(d, depth)
	if err != nil {
		return nil, err
	}
	tok, err = xrNextElementToken(d)
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(xml.EndElement); !ok {
		return nil, errors.New("more than one <value>")
	}
	return v, nil
}

// xrParseValue parses the content of a <value> element whose start tag has
// been read, through its end tag. A value without a type element is a
// string.
func xrParseValue(d *xml.Decoder, depth int) (any, error) {
	if depth > maxXMLRPCDepth {
		return nil, fmt.Errorf("values nested deeper than %d", maxXMLRPCDepth)
	}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			return text.String(), nil
		case xml.StartElement:
			if strings.TrimSpace(text.String()) != "" {
				return nil, errors.New("text mixed with a typed value")
			}
			v, err := xrParseTyped(d, t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			tok, err := xrNextElementToken(d)
			if err != nil {
				return nil, err
			}
			if _, ok := tok.(xml.EndElement); !ok {
				return nil, errors.New("more than one type in <value>")
			}
			return v, nil
		}
	}
}

// xrParseTyped parses a type element (<int>, <struct>...) whose start tag has
// been read.
func xrParseTyped(d *xml.Decoder, typ string, depth int) (any, error) {
	switch typ {
	case "array":
		return xrParseArray(d, depth+1)
	case "struct":
		return xrParseStruct(d, depth+1)
	case "nil":
		if _, err := xrReadText(d); err != nil {
			return nil, err
		}
		return nil, nil
	}
	s, err := xrReadText(d)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad <%s> %q", typ, s)
		}
		return n, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, fmt.Errorf("bad <boolean> %q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("bad <double> %q", s)
		}
		return f, nil
	case "dateTime.iso8601":
		for _, layout := range []string{"20060102T15:04:05", "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("bad <dateTime.iso8601> %q", s)
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, fmt.Errorf("bad <base64>: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown value type <%s>", typ)
}

func xrParseArray(d *xml.Decoder, depth int) (any, error) {
	tok, err := xrNextElementToken(d)
	if err != nil {
		return nil, err
	}
	if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != "data" {
		return nil, errors.New("<array> without <data>")
	}
	out := []any{}
	for {
		tok, err := xrNextElementToken(d)
		if err != nil {
			return nil, err
		}
		if _, ok := tok.(xml.EndElement); ok {
			break
		}
		if se := tok.(xml.StartElement); se.Name.Local != "value" {
			return nil, fmt.Errorf("unexpected <%s> in <data>", se.Name.Local)
		}
		v, err := xrParseValue(d, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	tok, err = xrNextElementToken(d)
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(xml.EndElement); !ok {
		return nil, errors.New("more than one <data> in <array>")
	}
	return out, nil
}

func xrParseStruct(d *xml.Decoder, depth int) (any, error) {
	out := xrStruct{}
	for {
		tok, err := xrNextElementToken(d)
		if err != nil {
			return nil, err
		}
		if _, ok := tok.(xml.EndElement); ok {
			return out, nil
		}
		if se := tok.(xml.StartElement); se.Name.Local != "member" {
			return nil, fmt.Errorf("unexpected <%s> in <struct>", se.Name.Local)
		}
		var m xrMember
		sawName, sawValue := false, false
		for {
			tok, err := xrNextElementToken(d)
			if err != nil {
				return nil, err
			}
			if _, ok := tok.(xml.EndElement); ok {
				break
			}
			switch se := tok.(xml.StartElement); {
			case se.Name.Local == "name" && !sawName:
				sawName = true
				if m.Name, err = xrReadText(d); err != nil {
					return nil, err
				}
			case se.Name.Local == "value" && !sawValue:
				sawValue = true
				if m.Value, err = xrParseValue(d, depth); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("unexpected <%s> in <member>", se.Name.Local)
			}
		}
		if !sawName || !sawValue {
			return nil, errors.New("<member> needs a <name> and a <value>")
		}
		out = append(out, m)
	}
}

// xrEncoded is a value already encoded, <value> element included: a
// cached reply (getAllProcessInfo) is written as it is.
type xrEncoded []byte

// xrEncodeResponse returns a methodResponse document carrying v.
func xrEncodeResponse(v any) []byte {
	var b bytes.Buffer
	b.WriteString(xrResponseHead)
	xrEncodeValue(&b, v)
	b.WriteString(xrResponseTail)
	return b.Bytes()
}

// The document around the value of a methodResponse.
const (
	xrResponseHead = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
	xrResponseTail = "</param>\n</params>\n</methodResponse>\n"
)

// xrEncodeFault returns a methodResponse document carrying a fault.
func xrEncodeFault(code supervisor.Fault, msg string) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n")
	xrEncodeValue(&b, xrFaultStruct(code, msg))
	b.WriteString("</fault>\n</methodResponse>\n")
	return b.Bytes()
}

func xrFaultStruct(code supervisor.Fault, msg string) xrStruct {
	return xrStruct{{"faultCode", int(code)}, {"faultString", msg}}
}

// xrEncodeValue writes v as a <value> element. Integers outside XML-RPC's
// 32-bit range are clamped to it: Python accepts bigger ones, but other
// clients reject them.
func xrEncodeValue(b *bytes.Buffer, v any) {
	if raw, ok := v.(xrEncoded); ok {
		b.Write(raw)
		return
	}
	b.WriteString("<value>")
	switch t := v.(type) {
	case nil:
		b.WriteString("<nil/>")
	case string:
		b.WriteString("<string>")
		xrEscapeText(b, t)
		b.WriteString("</string>")
	case []byte:
		b.WriteString("<base64>")
		b.WriteString(base64.StdEncoding.EncodeToString(t))
		b.WriteString("</base64>")
	case bool:
		if t {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case int:
		xrWriteInt(b, int64(t))
	case int64:
		xrWriteInt(b, t)
	case supervisor.Fault:
		xrWriteInt(b, int64(t))
	case float64:
		b.WriteString("<double>")
		b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
		b.WriteString("</double>")
	case time.Time:
		b.WriteString("<dateTime.iso8601>")
		b.WriteString(t.Format("20060102T15:04:05"))
		b.WriteString("</dateTime.iso8601>")
	case []any:
		b.WriteString("<array><data>\n")
		for _, e := range t {
			xrEncodeValue(b, e)
		}
		b.WriteString("</data></array>")
	case []string:
		b.WriteString("<array><data>\n")
		for _, e := range t {
			xrEncodeValue(b, e)
		}
		b.WriteString("</data></array>")
	case []xrStruct:
		b.WriteString("<array><data>\n")
		for _, e := range t {
			xrEncodeValue(b, e)
		}
		b.WriteString("</data></array>")
	case xrStruct:
		b.WriteString("<struct>\n")
		for _, m := range t {
			b.WriteString("<member>\n<name>")
			xrEscapeText(b, m.Name)
			b.WriteString("</name>\n")
			xrEncodeValue(b, m.Value)
			b.WriteString("</member>\n")
		}
		b.WriteString("</struct>")
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s := make(xrStruct, 0, len(t))
		for _, k := range keys {
			s = append(s, xrMember{k, t[k]})
		}
		b.Truncate(b.Len() - len("<value>"))
		xrEncodeValue(b, s)
		return
	case *supervisor.Error:
		b.Truncate(b.Len() - len("<value>"))
		xrEncodeValue(b, xrFaultStruct(t.Fault, t.Error()))
		return
	default:
		// Only the types above are ever produced by this package.
		b.WriteString("<string>")
		xrEscapeText(b, fmt.Sprint(t))
		b.WriteString("</string>")
	}
	b.WriteString("</value>\n")
}

func xrWriteInt(b *bytes.Buffer, n int64) {
	n = min(max(n, math.MinInt32), math.MaxInt32)
	b.WriteString("<int>")
	b.WriteString(strconv.FormatInt(n, 10))
	b.WriteString("</int>")
}

// xrEscapeText writes s as XML character data. Log contents may hold bytes
// XML 1.0 cannot carry at all (invalid UTF-8, control characters such as
// ESC): those become U+FFFD, so the client's parser never chokes. \r is
// written as a character reference so it survives line-end normalisation.
func xrEscapeText(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#13;")
		case r == utf8.RuneError && size == 1, !xrXmlChar(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}

// xrXmlChar reports whether r is in XML 1.0's Char production.
func xrXmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
