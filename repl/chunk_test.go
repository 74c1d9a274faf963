package repl

import (
	"slices"
	"testing"
)

func TestIncomplete(t *testing.T) {
	tests := []struct {
		chunk string
		want  bool
	}{
		{"x = 1", false},
		{"1+1", false},
		{"status", false},
		{"sv.status()", false},
		{"return", false},
		{"function f()", true},
		{"function f()\n  return 1\nend", false},
		{"if x then", true},
		{"for i = 1, 3 do", true},
		{"while true do", true},
		{"repeat", true},
		{"x = {", true},
		{"local t = {\n1,", true},
		{"f(", true},
		{"return 1+", true},
		{"1 +", true},
		{"x = 1 y", true},
		{"s = [[abc", true},
		{"s = [[abc\ndef]]", false},
		{"s = [==[ x ]=]", true},
		{"--[[ c", true},
		{"--[[ c\n]]", false},
		{"-- a comment", false},
		{`s = "abc`, false}, // unterminated short string: an error, not more input
		{`s = 'abc`, false},
		{`"abc`, false},
		{"end", false},
		{"x = 1 end", false},
		{"x = = 1", false},
	}
	for _, tt := range tests {
		if got := Incomplete(tt.chunk); got != tt.want {
			t.Errorf("Incomplete(%q) = %v, want %v", tt.chunk, got, tt.want)
		}
	}
}

func TestHistoryEntries(t *testing.T) {
	tests := []struct {
		chunk string
		want  []string
	}{
		{"x = 1", []string{"x = 1"}},
		{"function f()\n  return 1\nend", []string{"function f() return 1 end"}},
		{"t = {\n\n1,\n}", []string{"t = { 1, }"}},
		{"f() -- c\nx = 1", []string{"f() -- c", "x = 1"}},
		{"s = [[a\nb]]", []string{"s = [[a", "b]]"}},
		{"s = [=[a\nb]=]", []string{"s = [=[a", "b]=]"}},
	}
	for _, tt := range tests {
		if got := historyEntries(tt.chunk); !slices.Equal(got, tt.want) {
			t.Errorf("historyEntries(%q) = %q, want %q", tt.chunk, got, tt.want)
		}
	}
}
