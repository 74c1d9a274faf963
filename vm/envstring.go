package vm

import (
	"fmt"
	"strings"
)

// parseEnvString parses supervisord's environment= syntax: KEY=VALUE
// pairs separated by any single separator (usually a comma). Values may be
// quoted with ' or " (no escapes); unquoted values hold only letters,
// digits and _ / . + - ( ) :, as in supervisord.
func parseEnvString(s string) (map[string]string, error) {
	toks, err := envTokens(s)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	bad := fmt.Errorf("unexpected end of key/value pairs in %q", s)
	for i := 0; i < len(toks); i += 4 {
		if i+2 >= len(toks) || toks[i].quoted || !toks[i].word || toks[i+1].text != "=" || toks[i+1].quoted {
			return nil, bad
		}
		if !toks[i+2].word && !toks[i+2].quoted {
			return nil, bad
		}
		env[toks[i].text] = toks[i+2].text
	}
	return env, nil
}

type envToken struct {
	text   string
	word   bool // made of word characters
	quoted bool // was quoted (quotes removed)
}

func isEnvWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_/.+-():", c) >= 0
}

func envTokens(s string) ([]envToken, error) {
	var toks []envToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			toks = append(toks, envToken{text: s[i+1 : i+1+end], quoted: true})
			i += end + 2
			if i < len(s) && (isEnvWordChar(s[i]) || s[i] == '\'' || s[i] == '"') {
				return nil, fmt.Errorf("unexpected end of key/value pairs in %q", s)
			}
		case isEnvWordChar(c):
			j := i
			for j < len(s) && isEnvWordChar(s[j]) {
				j++
			}
			if j < len(s) && (s[j] == '\'' || s[j] == '"') {
				return nil, fmt.Errorf("unexpected end of key/value pairs in %q", s)
			}
			toks = append(toks, envToken{text: s[i:j], word: true})
			i = j
		default:
			toks = append(toks, envToken{text: string(c)})
			i++
		}
	}
	return toks, nil
}
