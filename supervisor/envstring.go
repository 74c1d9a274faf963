package supervisor

import (
	"errors"
	"strings"
)

// EnvPair is one KEY=value of a supervisord environment= string.
type EnvPair struct{ Key, Value string }

// errEnvSyntax is supervisord's complaint about an environment= string.
var errEnvSyntax = errors.New("unexpected end of key/value pairs")

// ParseEnvironment parses supervisord's environment= syntax as its
// shlex-based parser does: tokens in triples KEY = VALUE, each followed by
// one separator token (usually a comma). Values may be quoted with ' or "
// (no escapes); unquoted values hold only letters, digits and
// _ / . + - ( ) :, and %(name)s expansions, which supervisord expands
// before it parses (a caller that expands first never passes one). A
// repeated key keeps its first place and last value.
func ParseEnvironment(s string) ([]EnvPair, error) {
	toks, err := envTokens(s)
	if err != nil {
		return nil, err
	}
	var pairs []EnvPair
	at := map[string]int{}
	for i := 0; i < len(toks); i += 4 {
		if i+2 >= len(toks) || toks[i].quoted || !toks[i].word || toks[i+1].text != "=" || toks[i+1].quoted {
			return nil, errEnvSyntax
		}
		if !toks[i+2].word && !toks[i+2].quoted {
			return nil, errEnvSyntax
		}
		k, v := toks[i].text, toks[i+2].text
		if j, ok := at[k]; ok {
			pairs[j].Value = v
			continue
		}
		at[k] = len(pairs)
		pairs = append(pairs, EnvPair{k, v})
	}
	return pairs, nil
}

type envToken struct {
	text   string
	word   bool // made of word characters
	quoted bool // was quoted (quotes removed)
}

func isEnvWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_/.+-():", c) >= 0
}

// expansionLen returns the length of the %(name)s expansion s starts
// with, or 0. supervisord expands before it parses, so an unquoted
// %(ENV_HOME)s is a word there.
func expansionLen(s string) int {
	if !strings.HasPrefix(s, "%(") {
		return 0
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return 0
	}
	for i := end + 1; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return i + 1
		}
		if !strings.ContainsRune("-+ #0123456789.", rune(c)) {
			return 0
		}
	}
	return 0
}

// envTokens splits s as Python's shlex does with supervisord's word
// characters. A quote glued to a word is an error, as in supervisord
// (shlex would join them into one token that fails the key/value check).
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
				return nil, errors.New("unterminated quote")
			}
			toks = append(toks, envToken{text: s[i+1 : i+1+end], quoted: true})
			i += end + 2
			if i < len(s) && (isEnvWordChar(s[i]) || s[i] == '\'' || s[i] == '"') {
				return nil, errEnvSyntax
			}
		case isEnvWordChar(c) || expansionLen(s[i:]) > 0:
			j := i
			for j < len(s) {
				if n := expansionLen(s[j:]); n > 0 {
					j += n
				} else if isEnvWordChar(s[j]) {
					j++
				} else {
					break
				}
			}
			if j < len(s) && (s[j] == '\'' || s[j] == '"') {
				return nil, errEnvSyntax
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
