package supervisor

import (
	"strings"
	"testing"
)

// TestParseEnvironment checks the environment= parser against what
// supervisord's shlex-based parser accepts and rejects.
func TestParseEnvironment(t *testing.T) {
	tests := []struct{ in, want string }{
		{`A="1",B="x,y"`, "A=1 B=x,y"},
		{`C='single q',D=plain`, "C=single q D=plain"},
		{`K = v , L= "w"`, "K=v L=w"},
		{`A=1,`, "A=1"},
		{`A=""`, "A="},
		{`A=/usr/bin:/bin`, "A=/usr/bin:/bin"},
		{`A=1,B=2,A=3`, "A=3 B=2"},
		{`A=1;B=2`, "A=1 B=2"},
		{`H=%(ENV_HOME)s/x,P=%(process_num)02d`, "H=%(ENV_HOME)s/x P=%(process_num)02d"},
		{`E="with \"dq\""`, "error"},
		{`A=a\,b`, "error"},
		{`X="a"b,Y=1`, "error"},
		{`A=1 B=2`, "error"},
		{`A=a=b`, "error"},
		{`A=foo@bar`, "error"},
		{`A="open`, "error"},
	}
	for _, tt := range tests {
		pairs, err := ParseEnvironment(tt.in)
		var got []string
		for _, p := range pairs {
			got = append(got, p.Key+"="+p.Value)
		}
		g := strings.Join(got, " ")
		if err != nil {
			g = "error"
		}
		if g != tt.want {
			t.Errorf("ParseEnvironment(%s) = %q, want %q", tt.in, g, tt.want)
		}
	}
}
