package vm

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor"
)

// TestFCGIProgramDeclaration loads fcgi_program in its forms: the socket
// is the program's (every instance shares it, %(program_name)s expands,
// %(process_num)s does not exist there), with supervisord's defaults.
func TestFCGIProgramDeclaration(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      supervisor.SocketSpec
	}{
		{"tcp", `fcgi_program "php" { command = "php-cgi", socket = "tcp://LOCALHOST:9000" }`,
			supervisor.SocketSpec{URL: "tcp://localhost:9000", Mode: -1, Uid: -1, Gid: -1}},
		{"unix with options", `fcgi_program { name = "php", command = "php-cgi", numprocs = 2, process_name = "%(program_name)s_%(process_num)d",
			socket = "unix:///run/%(program_name)s.sock", socket_mode = "0660", socket_owner = "65534:65534", socket_backlog = 128 }`,
			supervisor.SocketSpec{URL: "unix:///run/php.sock", Mode: 0o660, Owner: "65534:65534", Uid: 65534, Gid: 65534, Backlog: 128}},
		{"unix defaults", `fcgi_program "php" { command = "php-cgi", socket = "unix:///run/php.sock" }`,
			supervisor.SocketSpec{URL: "unix:///run/php.sock", Mode: 0o700, Uid: -1, Gid: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg := loadSource(t, tc.src, Options{})
			if len(cfg.Specs) == 0 {
				t.Fatal("no specs")
			}
			for _, s := range cfg.Specs {
				if s.Socket == nil || !reflect.DeepEqual(*s.Socket, tc.want) {
					t.Errorf("%s: socket %+v, want %+v", s.Name, s.Socket, tc.want)
				}
				if s.Group != "php" {
					t.Errorf("%s: group %q", s.Name, s.Group)
				}
			}
			var b strings.Builder
			if err := FormatCheck(&b, cfg); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.want.URL) {
				t.Errorf("tend check does not show the socket:\n%s", b.String())
			}
		})
	}
}

// TestFCGISocketOwnerDefaultsToUser: a unix socket of a program run as
// another user belongs to that user, as supervisord does.
func TestFCGISocketOwnerDefaultsToUser(t *testing.T) {
	_, cfg := loadSource(t, `fcgi_program "php" { command = "php-cgi", user = "65534", socket = "unix:///run/php.sock" }`, Options{})
	s := cfg.Specs[0].Socket
	if s.Uid != 65534 || s.Owner != "" {
		t.Errorf("socket %+v, want uid 65534", s)
	}
}

func TestSocketsOption(t *testing.T) {
	_, cfg := loadSource(t, `program "web" { command = "x", numprocs = 2, process_name = "w%(process_num)d",
		sockets = { web = "tcp://127.0.0.1:8080", admin = { url = "unix:///run/%(program_name)s.sock", mode = "0600", backlog = 16 } } }`, Options{})
	want := []supervisor.SocketSpec{
		{Name: "admin", URL: "unix:///run/web.sock", Mode: 0o600, Backlog: 16, Uid: -1, Gid: -1},
		{Name: "web", URL: "tcp://127.0.0.1:8080", Mode: -1, Uid: -1, Gid: -1},
	}
	for _, s := range cfg.Specs {
		if !reflect.DeepEqual(s.Sockets, want) {
			t.Errorf("%s: sockets\n%+v\nwant (sorted by name)\n%+v", s.Name, s.Sockets, want)
		}
	}
}

func TestSocketOptionErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`fcgi_program "f" { command = "x" }`, `fcgi_program "f": socket is required`},
		{`fcgi_program "f" { command = "x", socket = "tcp://h" }`, `socket: bad socket "tcp://h"`},
		{`fcgi_program "f" { command = "x", socket = "unix://rel.sock" }`, `not an absolute path`},
		{`fcgi_program "f" { command = "x", socket = "tcp://h:1", socket_mode = "0600" }`, `socket_mode only applies to a unix socket`},
		{`fcgi_program "f" { command = "x", socket = "tcp://h:1", socket_backlog = 0 }`, `socket_backlog must be`},
		{`fcgi_program "f" { command = "x", socket = "tcp://h:1", socket_backlog = 70000 }`, `socket_backlog must be 1-65535`},
		{`fcgi_program "f" { command = "x", socket = function(p) return "tcp://h:1" end }`, `socket cannot be a function: it belongs to the whole program`},
		{`program "p" { command = "x", socket = "tcp://h:1" }`, `unknown option "socket"`},
		{`program "p" { command = "x", sockets = "tcp://h:1" }`, `sockets must be a table`},
		{`program "p" { command = "x", sockets = { "tcp://h:1" } }`, `entries are written name = "url"`},
		{`program "p" { command = "x", sockets = { ["a:b"] = "tcp://h:1" } }`, `without ':'`},
		{`program "p" { command = "x", sockets = { web = { backlog = 3 } } }`, `sockets.web.url is required`},
		{`program "p" { command = "x", sockets = { web = { url = "tcp://h:1", mode = "0600" } } }`, `sockets.web.mode only applies to a unix socket`},
		{`program "p" { command = "x", sockets = { web = { url = "tcp://h:1", bogus = 1 } } }`, `unknown field bogus`},
	} {
		if got := loadError(t, map[string]string{"tend.lua": tc.src}); !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

// TestLoadINIFCGIProgram runs a supervisord config with [fcgi-program:x]
// directly: the program gets its socket, and an error in the socket names
// the INI file and line.
func TestLoadINIFCGIProgram(t *testing.T) {
	path := writeConfig(t, map[string]string{
		"tend.lua": "[supervisord]\n\n[fcgi-program:php]\ncommand=php-cgi\nsocket=unix:///run/%(program_name)s.sock\nsocket_mode=0660\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n",
	})
	v, cfg, err := Load(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if len(cfg.Specs) != 2 {
		t.Fatalf("specs: %d", len(cfg.Specs))
	}
	for _, s := range cfg.Specs {
		if s.Socket == nil || s.Socket.URL != "unix:///run/php.sock" || s.Socket.Mode != 0o660 || s.Group != "php" {
			t.Errorf("%s: socket %+v group %s", s.Name, s.Socket, s.Group)
		}
	}
	bad := writeConfig(t, map[string]string{"tend.lua": "[supervisord]\n\n[fcgi-program:php]\ncommand=php-cgi\nsocket=tcp://nohostport\n"})
	_, _, err = Load(context.Background(), bad, Options{})
	if err == nil || !strings.Contains(err.Error(), "tend.lua:5") || !strings.Contains(err.Error(), `bad socket "tcp://nohostport"`) {
		t.Errorf("bad socket: %v", err)
	}
}
