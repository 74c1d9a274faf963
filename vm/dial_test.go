package vm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadDialInfo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEND_TEST_RUN", "/run/x")
	for _, tc := range []struct {
		name, config string
		socket       string
		http         *HTTPConfig
		err          string
	}{
		{"literal", `daemon { socket = { path = "/tmp/a.sock", mode = "0700" } }`, "/tmp/a.sock", nil, ""},
		{"expanded", `daemon { socket = { path = "%(here)s/b.sock" } }`, dir + "/b.sock", nil, ""},
		{"env", `daemon { socket = { path = "%(ENV_TEND_TEST_RUN)s/c.sock" } }`, "/run/x/c.sock", nil, ""},
		{"no daemon", `program "a" { command = "true" }`, DefaultSocket(), nil, ""},
		{"no socket", `daemon { logfile = "x.log" }`, DefaultSocket(), nil, ""},
		{"in a do block", "do\n daemon { socket = { path = \"/tmp/d.sock\" } }\nend", "/tmp/d.sock", nil, ""},
		{"http", `daemon { http = { listen = "127.0.0.1:9001", username = "u", password = "p" } }`, DefaultSocket(),
			&HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "p"}, ""},
		{"http off", `daemon { http = false }`, DefaultSocket(), nil, ""},
		{"computed", "local p = os.getenv('X')\ndaemon {\n socket = { path = p },\n}", DefaultSocket(), nil,
			"tend.lua:3: daemon{} socket.path is computed, not a literal string; give the daemon with -s"},
		// The config is never run: its errors, option functions and user
		// lookups cannot keep the CLI from its daemon.
		{"not run", "error('must not run')\nprogram 'x' { command = 'true', user = 'no-such-user-here' }\n" +
			`daemon { socket = { path = "/tmp/e.sock" } }`, "/tmp/e.sock", nil, ""},
		{"syntax error", `daemon { socket = { path = "/tmp/f.sock" } }` + "\nprogram 'x' {", "/tmp/f.sock", nil, "config does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "tend.lua")
			if err := os.WriteFile(path, []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := ReadDialInfo(path)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if info.Socket != tc.socket {
				t.Errorf("socket %q, want %q", info.Socket, tc.socket)
			}
			if (info.HTTP == nil) != (tc.http == nil) || info.HTTP != nil && *info.HTTP != *tc.http {
				t.Errorf("http %+v, want %+v", info.HTTP, tc.http)
			}
			if tc.name == "syntax error" && !errors.Is(err, ErrUnparsed) {
				t.Errorf("a syntax error is not ErrUnparsed: %v", err)
			}
		})
	}
}
