package client

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tend-sh/tend/supervisor/control"
)

// decodeStatus decodes a status reply (control.StatusReply) the way
// json.Unmarshal does, without reflection and without a copy of each
// string: a string with no escape is a substring of s. Decoding 5000
// processes with encoding/json was most of tend status's time (its
// validating pre-scan, reflection and 40,000 small strings).
//
// It handles the reply as the daemon writes it: one object holding the
// processes, each an object of strings and integers. Anything else (a
// nested value where a scalar is expected, a fraction, a key that differs
// from a field's only by case, invalid JSON) makes it return ok false, for
// json.Unmarshal to decode or to report.
func decodeStatus(s string) (procs []control.ProcessInfo, ok bool) {
	d := statusDecoder{s: s}
	if !d.byte('{') {
		return nil, false
	}
	for more := !d.byte('}'); more; more = !d.byte('}') {
		key, ok := d.key()
		if !ok {
			return nil, false
		}
		switch {
		case key == "processes":
			if procs, ok = d.processes(); !ok {
				return nil, false
			}
		case strings.EqualFold(key, "processes") || !d.skipScalar():
			return nil, false
		}
		if !d.comma('}') {
			return nil, false
		}
	}
	d.space()
	return procs, d.i == len(s)
}

// statusDecoder reads JSON values from s at i.
type statusDecoder struct {
	s string
	i int
}

// space skips JSON whitespace.
func (d *statusDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte skips whitespace and then c, reporting whether c was there.
func (d *statusDecoder) byte(c byte) bool {
	d.space()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// comma ends a member of an object or array: a comma, or the closing byte
// left for the loop to read.
func (d *statusDecoder) comma(end byte) bool {
	d.space()
	if d.i < len(d.s) && d.s[d.i] == end {
		return true
	}
	return d.byte(',') && d.peekMember()
}

// peekMember reports whether a member follows a comma: JSON has no
// trailing comma.
func (d *statusDecoder) peekMember() bool {
	d.space()
	return d.i < len(d.s) && d.s[d.i] != '}' && d.s[d.i] != ']'
}

// key reads an object's key and its colon.
func (d *statusDecoder) key() (string, bool) {
	d.space()
	k, ok := d.str()
	return k, ok && d.byte(':')
}

// null reads a null, which leaves a field as it is.
func (d *statusDecoder) null() bool {
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += len("null")
		return true
	}
	return false
}

// processes reads the array of processes (or null).
func (d *statusDecoder) processes() ([]control.ProcessInfo, bool) {
	d.space()
	if d.null() {
		return nil, true
	}
	if !d.byte('[') {
		return nil, false
	}
	// Every process is one object: an overcount only costs room.
	procs := make([]control.ProcessInfo, 0, strings.Count(d.s[d.i:], "{"))
	for more := !d.byte(']'); more; more = !d.byte(']') {
		var p control.ProcessInfo
		if !d.process(&p) || !d.comma(']') {
			return nil, false
		}
		procs = append(procs, p)
	}
	return procs, true
}

// process reads one process object into p.
func (d *statusDecoder) process(p *control.ProcessInfo) bool {
	if !d.byte('{') {
		return false
	}
	for more := !d.byte('}'); more; more = !d.byte('}') {
		key, ok := d.key()
		if !ok {
			return false
		}
		d.space()
		if !d.null() {
			ok = d.field(p, key)
		}
		if !ok || !d.comma('}') {
			return false
		}
	}
	return true
}

// processFields are ProcessInfo's JSON keys; json.Unmarshal would fill a
// field from a key that differs only by case, which decodeStatus leaves
// to it.
var processFields = []string{"name", "group", "state", "statename", "description", "pid", "start", "stop", "now",
	"exitstatus", "spawnerr", "stdout_logfile", "stderr_logfile", "waiting"}

func foldsToField(key string) bool {
	for _, f := range processFields {
		if strings.EqualFold(key, f) {
			return true
		}
	}
	return false
}

// field reads the value of key into p's field of that key, or skips a
// scalar no field takes.
func (d *statusDecoder) field(p *control.ProcessInfo, key string) bool {
	switch key {
	case "name":
		return d.strInto(&p.Name)
	case "group":
		return d.strInto(&p.Group)
	case "state":
		return intInto(d, &p.State)
	case "statename":
		return d.strInto(&p.StateName)
	case "description":
		return d.strInto(&p.Description)
	case "pid":
		return intInto(d, &p.Pid)
	case "start":
		return intInto(d, &p.Start)
	case "stop":
		return intInto(d, &p.Stop)
	case "now":
		return intInto(d, &p.Now)
	case "exitstatus":
		return intInto(d, &p.ExitStatus)
	case "spawnerr":
		return d.strInto(&p.SpawnErr)
	case "stdout_logfile":
		return d.strInto(&p.StdoutLogfile)
	case "stderr_logfile":
		return d.strInto(&p.StderrLogfile)
	case "waiting":
		return d.strInto(&p.Waiting)
	}
	return !foldsToField(key) && d.skipScalar()
}

// strInto reads a string into *dst.
func (d *statusDecoder) strInto(dst *string) bool {
	s, ok := d.str()
	*dst = s
	return ok
}

// intInto reads an integer into *dst; one that does not fit is refused,
// as json.Unmarshal refuses it.
func intInto[T int | int64](d *statusDecoder, dst *T) bool {
	lit, integer, ok := d.number()
	if !ok || !integer {
		return false // json.Unmarshal refuses a fraction for an integer
	}
	bits := 64
	if _, isInt := any(*dst).(int); isInt {
		bits = strconv.IntSize
	}
	n, err := strconv.ParseInt(lit, 10, bits)
	*dst = T(n)
	return err == nil
}

// str reads a string. One with no escape and valid UTF-8 is a substring
// of the reply; any other goes through json.Unmarshal, which unescapes it
// and replaces invalid UTF-8 as it would have in the whole reply.
func (d *statusDecoder) str() (string, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	j := start
	for j < len(d.s) && d.s[j] != '"' && d.s[j] != '\\' && d.s[j] >= 0x20 && d.s[j] < utf8.RuneSelf {
		j++
	}
	if j < len(d.s) && d.s[j] == '"' {
		d.i = j + 1
		return d.s[start:j], true
	}
	plain := true
	for ; j < len(d.s) && d.s[j] != '"'; j++ {
		if d.s[j] == '\\' {
			j++
			plain = false
		} else if d.s[j] < 0x20 {
			return "", false
		}
	}
	if j >= len(d.s) {
		return "", false
	}
	d.i = j + 1
	if lit := d.s[start:j]; plain && utf8.ValidString(lit) {
		return lit, true
	}
	var v string
	err := json.Unmarshal([]byte(d.s[start-1:j+1]), &v)
	return v, err == nil
}

// number reads a JSON number and returns its text, and whether it is
// an integer (no fraction, no exponent).
func (d *statusDecoder) number() (lit string, integer, ok bool) {
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case !d.digits():
		return "", false, false
	}
	integer = true
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		integer = false
		if !d.digits() {
			return "", false, false
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		integer = false
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return "", false, false
		}
	}
	return d.s[start:d.i], integer, true
}

// digits reads one or more decimal digits.
func (d *statusDecoder) digits() bool {
	start := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// skipScalar reads a value of a key no field takes: a string, number,
// true, false or null. An object or array is left to json.Unmarshal.
func (d *statusDecoder) skipScalar() bool {
	d.space()
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(d.s[d.i:], lit) {
			d.i += len(lit)
			return true
		}
	}
	if d.i < len(d.s) && d.s[d.i] == '"' {
		_, ok := d.str()
		return ok
	}
	_, _, ok := d.number()
	return ok
}
