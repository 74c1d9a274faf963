package stdlib

import (
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	L := newState(t, Options{})
	tests := []struct{ name, src, want string }{
		{"linear", `local p = require "policy"
return table.concat({ p.linear({}, { attempt = 1 }), p.linear({}, { attempt = 3 }), tostring(p.linear({}, { attempt = 0 })) }, " ")`,
			"1 3 nil"},
		{"exponential backoff", `local f = require("policy").exponential { initial = 1, factor = 2, max = 5 }
local out = {}
for a = 1, 5 do out[#out + 1] = f({ name = "w" }, { attempt = a }) end
return table.concat(out, " ")`, "1 2 4 5 5"},
		{"exponential on_exit resets", `local f = require("policy").exponential { initial = 0.5, reset_after = 10 }
local p = { name = "w", group = "w" }
local a = f(p, { attempt = 0, expected = false, uptime = 1 })
local b = f(p, { attempt = 0, expected = false, uptime = 1 })
local c = f(p, { attempt = 0, expected = false, uptime = 20 })
local d = f(p, { attempt = 0, expected = true, uptime = 1 })
return table.concat({ a, b, c, tostring(d) }, " ")`, "0.5 1 0.5 nil"},
		{"jitter stays in range", `local f = require("policy").exponential { initial = 10, jitter = 0.5 }
for i = 1, 200 do local d = f({}, { attempt = 1 }); if d < 5 or d > 15 then return "out of range " .. d end end
return "ok"`, "ok"},
		{"fixed", `local f = require("policy").fixed { delay = 3 }
return table.concat({ f({}, { attempt = 2 }), f({}, { attempt = 0, expected = false }), tostring(f({}, { attempt = 0, expected = true })) }, " ")`,
			"3 3 nil"},
		{"give_up_after", `local f = require("policy").give_up_after { n = 3, within = 60 }
local p = { name = "w" }
local out = {}
for a = 1, 3 do out[#out + 1] = tostring(f(p, { attempt = a })) end
for a = 1, 3 do out[#out + 1] = tostring(f(p, { attempt = 0, expected = false })) end
return table.concat(out, " ")`, "nil nil false nil nil stop"},
		{"chain", `local p = require "policy"
local f = p.chain(function(_, e) if e.code == 75 then return "stop" end end, p.fixed { delay = 2 })
return f({}, { attempt = 0, code = 75 }) .. " " .. f({}, { attempt = 0, code = 1 })`, "stop 2"},
	}
	for _, tt := range tests {
		if got := run(t, L, tt.src); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	for src, want := range map[string]string{
		`require("policy").exponential { factor = 0.5 }`: "policy.exponential: factor must be a number >= 1, got 0.5",
		`require("policy").exponential { inital = 1 }`:   `policy.exponential: unknown option "inital"`,
		`require("policy").fixed { delay = "x" }`:        `policy.fixed: delay must be a number >= 0, got "x"`,
		`require("policy").chain(1)`:                     "policy.chain: argument #1 must be a function, got number",
	} {
		if msg := fails(t, L, src); !strings.Contains(msg, want) {
			t.Errorf("%s: error %q, want %q", src, msg, want)
		}
	}
}
