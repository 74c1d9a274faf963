package supervisor

import "bytes"

// The tokens that switch a stream into and out of capture mode, as
// supervisord's PROCESS_COMMUNICATION protocol defines them.
var (
	commBegin = []byte("<!--XSUPERVISOR:BEGIN-->")
	commEnd   = []byte("<!--XSUPERVISOR:END-->")
)

// commScanner splits a child's output into bytes for the log and
// PROCESS_COMMUNICATION payloads: text between the BEGIN and END tokens is
// captured (up to max bytes, the oldest dropped) instead of logged. Tokens
// may straddle read chunks.
type commScanner struct {
	max       int
	capturing bool
	held      []byte // a possible token prefix carried to the next chunk
	captured  []byte
}

// feed consumes one chunk and returns what to log and the payloads that
// completed in it.
func (c *commScanner) feed(chunk []byte) (logged []byte, payloads [][]byte) {
	data := append(c.held, chunk...)
	c.held = nil
	for len(data) > 0 {
		tok := commBegin
		if c.capturing {
			tok = commEnd
		}
		i := bytes.Index(data, tok)
		if i < 0 {
			keep := partialSuffix(data, tok)
			c.take(&logged, data[:len(data)-keep])
			c.held = append([]byte(nil), data[len(data)-keep:]...)
			return logged, payloads
		}
		c.take(&logged, data[:i])
		data = data[i+len(tok):]
		if c.capturing {
			payloads = append(payloads, c.captured)
			c.captured = nil
		}
		c.capturing = !c.capturing
	}
	return logged, payloads
}

func (c *commScanner) take(logged *[]byte, b []byte) {
	if !c.capturing {
		*logged = append(*logged, b...)
		return
	}
	c.captured = append(c.captured, b...)
	if over := len(c.captured) - c.max; over > 0 {
		c.captured = c.captured[over:]
	}
}

// partialSuffix returns the length of the longest suffix of data that is a
// proper prefix of tok.
func partialSuffix(data, tok []byte) int {
	for n := min(len(tok)-1, len(data)); n > 0; n-- {
		if bytes.Equal(data[len(data)-n:], tok[:n]) {
			return n
		}
	}
	return 0
}
