package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tend-sh/tend/supervisor/control"
)

// statusWindow is how much of a status reply is held at once.
const statusWindow = 32 << 10

// maxSkipDepth bounds the nesting of a value decodeStatus skips.
const maxSkipDepth = 64

// errStatusReply is a status reply decodeStatus cannot read.
var errStatusReply = errors.New("not a status reply")

// decodeStatus decodes a status reply (control.StatusReply) from r as it
// arrives and calls fn with each process, in order. It holds a window of
// the reply, not the reply: at 5000 processes the reply is 1.3 MB, and on
// a VM where each fresh page costs tens of microseconds, reading it whole
// and then decoding it with encoding/json (its reflection and its
// validating pre-scan) was most of tend status's time.
//
// It reads what json.Unmarshal reads, and never reads a reply otherwise:
// whatever it cannot take as Unmarshal would (invalid JSON, a value of
// the wrong type, a fraction for an integer, a key differing from a
// field's only by case, "processes" twice) is an error. Keys of no field
// are skipped whatever their value, as Unmarshal skips them.
func decodeStatus(r io.Reader, fn func(control.ProcessInfo)) error {
	return decodeStatusWindow(r, statusWindow, fn)
}

// decodeStatusWindow is decodeStatus through a window of size bytes at
// first (tests make it end everywhere).
func decodeStatusWindow(r io.Reader, size int, fn func(control.ProcessInfo)) error {
	d := statusDecoder{r: r, buf: make([]byte, 0, size)}
	err := d.reply(fn)
	if d.err != nil {
		return d.err // the reply did not arrive whole
	}
	if err != nil {
		return fmt.Errorf("%w: %w at byte %d", errStatusReply, err, d.off+d.i)
	}
	return nil
}

// statusDecoder reads a status reply through a window: buf[i:] is what is
// read and not yet decoded. Each step (a brace, a key, a process) is
// decoded from the window and, when the window ends inside it, decoded
// again once the window holds more.
type statusDecoder struct {
	r   io.Reader
	buf []byte
	i   int
	off int   // the offset in the reply of buf[0], for messages
	eof bool  // r is exhausted
	err error // reading r failed

	group string // the last group decoded: processes share it
}

// step runs f from the current position until it succeeds, reading more
// of the reply after each failure; it fails once the reply has no more.
func (d *statusDecoder) step(f func() bool) bool {
	for {
		start := d.i
		if f() {
			return true
		}
		d.i = start
		if !d.more() {
			return false
		}
	}
}

// more moves the undecoded rest of the window to its front and fills the
// window behind it, growing it when one step does not fit it (filling it,
// a step is decoded again once per window, not once per read). It reports
// whether it read anything.
func (d *statusDecoder) more() bool {
	if d.eof {
		return false
	}
	n := copy(d.buf, d.buf[d.i:])
	d.off += d.i
	d.buf, d.i = d.buf[:n], 0
	if n == cap(d.buf) {
		d.buf = append(d.buf, make([]byte, n)...)[:n]
	}
	m, err := io.ReadFull(d.r, d.buf[n:cap(d.buf)])
	d.buf = d.buf[:n+m]
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		d.eof = true
	case err != nil:
		d.err, d.eof = err, true
	}
	return m > 0
}

// reply decodes the top-level object.
func (d *statusDecoder) reply(fn func(control.ProcessInfo)) error {
	if !d.step(func() bool { return d.byte('{') }) {
		return errors.New("want an object")
	}
	seen := false
	for first := true; ; first = false {
		closed, err := d.next('}', first)
		if err != nil {
			return err
		}
		if closed {
			break
		}
		var k []byte
		if !d.step(func() (ok bool) { k, ok = d.key(); return ok }) {
			return errors.New("want a key")
		}
		key := string(k) // k is in the window, which moves on
		switch {
		case key == "processes" && !seen:
			seen = true
			if err := d.processes(fn); err != nil {
				return err
			}
		case strings.EqualFold(key, "processes"):
			return fmt.Errorf("key %q", key)
		case !d.step(func() bool { return d.skip(0) }):
			return fmt.Errorf("bad value of %q", key)
		}
	}
	for {
		d.space()
		if d.i < len(d.buf) {
			return errors.New("text after the reply")
		}
		if !d.more() {
			return nil
		}
	}
}

// next reads what comes before the next member of an object or array: a
// comma (none before the first), or the closing byte, reported as closed.
func (d *statusDecoder) next(end byte, first bool) (closed bool, err error) {
	if !d.step(func() (ok bool) { closed, ok = d.closes(end, first); return ok }) {
		return false, fmt.Errorf("want ',' or %q", end)
	}
	return closed, nil
}

// processes decodes the array of processes (or null).
func (d *statusDecoder) processes(fn func(control.ProcessInfo)) error {
	var isNull bool
	if !d.step(func() bool {
		d.space()
		isNull = d.literal("null")
		return isNull || d.byte('[')
	}) {
		return errors.New("want the array of processes")
	}
	if isNull {
		return nil
	}
	for first := true; ; first = false {
		closed, err := d.next(']', first)
		if err != nil {
			return err
		}
		if closed {
			return nil
		}
		// Not step: a closure would move p to the heap, once a process.
		var p control.ProcessInfo
		for start := d.i; !d.process(&p); start = d.i {
			d.i, p = start, control.ProcessInfo{}
			if !d.more() {
				return errors.New("bad process")
			}
		}
		fn(p)
	}
}

// space skips JSON whitespace.
func (d *statusDecoder) space() {
	for d.i < len(d.buf) {
		switch d.buf[d.i] {
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
	if d.i < len(d.buf) && d.buf[d.i] == c {
		d.i++
		return true
	}
	return false
}

// literal reads lit (null, true, false).
func (d *statusDecoder) literal(lit string) bool {
	if bytes.HasPrefix(d.buf[d.i:], []byte(lit)) {
		d.i += len(lit)
		return true
	}
	return false
}

// key reads an object's key and its colon. The key is in the window (or
// unescaped into a copy): compared, not kept, it needs no string.
func (d *statusDecoder) key() ([]byte, bool) {
	d.space()
	lit, plain, ok := d.strLit()
	if !ok || !d.byte(':') {
		return nil, false
	}
	if plain {
		return lit[1 : len(lit)-1], true
	}
	var k string
	if json.Unmarshal(lit, &k) != nil {
		return nil, false
	}
	return []byte(k), true
}

// process reads one process object into p. It is one step: a window
// that ends inside it fails it whole, to be read again.
func (d *statusDecoder) process(p *control.ProcessInfo) bool {
	if !d.byte('{') {
		return false
	}
	for first := true; ; first = false {
		if closed, ok := d.closes('}', first); closed || !ok {
			return ok
		}
		key, ok := d.key()
		if !ok {
			return false
		}
		d.space()
		if !d.literal("null") && !d.field(p, key) {
			return false
		}
	}
}

// field reads the value of key into p's field of that key, or skips the
// value of a key no field takes.
func (d *statusDecoder) field(p *control.ProcessInfo, key []byte) bool {
	switch string(key) {
	case "name":
		return d.strInto(&p.Name)
	case "group":
		ok := d.strInto(&p.Group, d.group) // processes share their group's name
		d.group = p.Group
		return ok
	case "state":
		return intInto(d, &p.State)
	case "statename":
		return d.strInto(&p.StateName, stateNames...)
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
	return !foldsToField(key) && d.skip(0)
}

// stateNames are the state names a reply carries, not copied for each
// process.
var stateNames = []string{"RUNNING", "STOPPED", "STARTING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN"}

// processFields are ProcessInfo's JSON keys; json.Unmarshal would fill a
// field from a key that differs only by case, which decodeStatus refuses.
var processFields = []string{"name", "group", "state", "statename", "description", "pid", "start", "stop", "now",
	"exitstatus", "spawnerr", "stdout_logfile", "stderr_logfile", "waiting"}

func foldsToField(key []byte) bool {
	for _, f := range processFields {
		if bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

// strInto reads a string into *dst, one of known kept as it is.
func (d *statusDecoder) strInto(dst *string, known ...string) bool {
	s, ok := d.str(known...)
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
	n, err := strconv.ParseInt(string(lit), 10, bits)
	*dst = T(n)
	return err == nil
}

// str reads a string: one of known when it is one (no copy), else a
// copy when it has no escape and is valid UTF-8; any other goes through
// json.Unmarshal, which unescapes it and replaces invalid UTF-8 as it
// would have in the whole reply.
func (d *statusDecoder) str(known ...string) (string, bool) {
	lit, plain, ok := d.strLit()
	if !ok {
		return "", false
	}
	if plain {
		body := lit[1 : len(lit)-1]
		for _, k := range known {
			if string(body) == k {
				return k, true
			}
		}
		return string(body), true
	}
	var v string
	err := json.Unmarshal(lit, &v)
	return v, err == nil
}

// strLit reads a string's literal, quotes included, and reports whether
// it is plain: no escape and valid UTF-8.
func (d *statusDecoder) strLit() (lit []byte, plain, ok bool) {
	b := d.buf
	if d.i >= len(b) || b[d.i] != '"' {
		return nil, false, false
	}
	start := d.i
	j := start + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 && b[j] < utf8.RuneSelf {
		j++
	}
	if j < len(b) && b[j] == '"' {
		d.i = j + 1
		return b[start:d.i], true, true
	}
	escaped := false
	for ; j < len(b) && b[j] != '"'; j++ {
		switch {
		case b[j] == '\\':
			j++
			escaped = true
		case b[j] < 0x20:
			return nil, false, false
		}
	}
	if j >= len(b) {
		return nil, false, false
	}
	d.i = j + 1
	lit = b[start:d.i]
	return lit, !escaped && utf8.Valid(lit), true
}

// number reads a JSON number and returns its text, and whether it is an
// integer (no fraction, no exponent). A number the window ends in fails:
// it may go on.
func (d *statusDecoder) number() (lit []byte, integer, ok bool) {
	start := d.i
	if d.i < len(d.buf) && d.buf[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.buf) && d.buf[d.i] == '0':
		d.i++
	case !d.digits():
		return nil, false, false
	}
	integer = true
	if d.i < len(d.buf) && d.buf[d.i] == '.' {
		d.i++
		integer = false
		if !d.digits() {
			return nil, false, false
		}
	}
	if d.i < len(d.buf) && (d.buf[d.i] == 'e' || d.buf[d.i] == 'E') {
		d.i++
		integer = false
		if d.i < len(d.buf) && (d.buf[d.i] == '+' || d.buf[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return nil, false, false
		}
	}
	return d.buf[start:d.i], integer, d.i < len(d.buf)
}

// digits reads one or more decimal digits.
func (d *statusDecoder) digits() bool {
	start := d.i
	for d.i < len(d.buf) && d.buf[d.i] >= '0' && d.buf[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// closes reads the closing byte end of an object or array (closed), or
// else the comma before a member (none before the first); ok is false
// when neither is there.
func (d *statusDecoder) closes(end byte, first bool) (closed, ok bool) {
	d.space()
	switch {
	case d.i >= len(d.buf):
		return false, false
	case d.buf[d.i] == end:
		d.i++
		return true, true
	}
	return false, first || d.byte(',')
}

// skip reads a value no field takes, whatever it is, as json.Unmarshal
// skips it.
func (d *statusDecoder) skip(depth int) bool {
	d.space()
	if d.i >= len(d.buf) || depth > maxSkipDepth {
		return false
	}
	switch c := d.buf[d.i]; c {
	case '"':
		_, ok := d.str()
		return ok
	case 't', 'f', 'n':
		return d.literal("true") || d.literal("false") || d.literal("null")
	case '{', '[':
		return d.skipComposite(c, depth)
	}
	_, _, ok := d.number()
	return ok
}

// skipComposite skips an object or array.
func (d *statusDecoder) skipComposite(open byte, depth int) bool {
	end := byte(']')
	if open == '{' {
		end = '}'
	}
	d.i++
	for first := true; ; first = false {
		if closed, ok := d.closes(end, first); closed || !ok {
			return ok
		}
		if open == '{' {
			if _, ok := d.key(); !ok {
				return false
			}
		}
		if !d.skip(depth + 1) {
			return false
		}
	}
}
