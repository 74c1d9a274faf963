package top

import "unicode/utf8"

// specialKey is a key that is not a character.
type specialKey int

const (
	keyNone specialKey = iota // a character: key.r
	keyUp
	keyDown
	keyPgUp
	keyPgDn
	keyHome
	keyEnd
	keyEnter
	keyEsc
	keyBackspace
	keyCtrlC
	keyCtrlL
	keyEOF // the terminal went away
)

// key is one key press.
type key struct {
	r       rune
	special specialKey
}

// parseKeys turns what one read of a terminal in raw mode returned into
// keys. An ESC that ends the read is the Esc key: terminals send an escape
// sequence in one write, so a lone ESC is a key press of its own. Keys it
// does not know (function keys, other controls) are dropped.
func parseKeys(b []byte) []key {
	var out []key
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == 0x1b && len(b) > 1 && (b[1] == '[' || b[1] == 'O'):
			k, n := escapeSequence(b)
			if k != keyNone {
				out = append(out, key{special: k})
			}
			b = b[n:]
			continue
		case c == 0x1b:
			out = append(out, key{special: keyEsc})
		case c == '\r' || c == '\n':
			out = append(out, key{special: keyEnter})
		case c == 0x7f || c == 0x08:
			out = append(out, key{special: keyBackspace})
		case c == 0x03:
			out = append(out, key{special: keyCtrlC})
		case c == 0x0c:
			out = append(out, key{special: keyCtrlL})
		case c < 0x20:
		default:
			r, n := utf8.DecodeRune(b)
			if r != utf8.RuneError {
				out = append(out, key{r: r})
			}
			b = b[n:]
			continue
		}
		b = b[1:]
	}
	return out
}

// escapeSequence reads the CSI or SS3 sequence at the start of b (ESC [
// params final, or ESC O final) and returns the key it is, keyNone for one
// it does not know, and its length.
func escapeSequence(b []byte) (specialKey, int) {
	n := 2
	param := 0
	for n < len(b) && (b[n] >= '0' && b[n] <= '9' || b[n] == ';') {
		if b[n] != ';' {
			param = param*10 + int(b[n]-'0')
		}
		n++
	}
	if n == len(b) {
		return keyNone, n // cut short: drop it
	}
	final := b[n]
	n++
	switch final {
	case 'A':
		return keyUp, n
	case 'B':
		return keyDown, n
	case 'H':
		return keyHome, n
	case 'F':
		return keyEnd, n
	case '~':
		switch param {
		case 1, 7:
			return keyHome, n
		case 4, 8:
			return keyEnd, n
		case 5:
			return keyPgUp, n
		case 6:
			return keyPgDn, n
		}
	}
	return keyNone, n
}
