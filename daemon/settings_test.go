package daemon

import (
	"strings"
	"testing"

	"github.com/tend-sh/tend/vm"
)

func TestNeedRestart(t *testing.T) {
	base := vm.Daemon{Logfile: "a.log", Socket: vm.SocketConfig{Path: "/run/a.sock", Mode: 0o700},
		HTTP: &vm.HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "p"}, LogLevel: "info"}
	cases := []struct {
		name string
		edit func(*vm.Daemon)
		want string
	}{
		{"nothing", func(*vm.Daemon) {}, ""},
		{"loglevel applies live", func(d *vm.Daemon) { d.LogLevel = "debug" }, ""},
		{"socket", func(d *vm.Daemon) { d.Socket.Path = "/run/b.sock" }, "socket"},
		{"http password", func(d *vm.Daemon) { d.HTTP = &vm.HTTPConfig{Listen: "127.0.0.1:9001", Username: "u", Password: "q"} }, "http"},
		{"http removed", func(d *vm.Daemon) { d.HTTP = nil }, "http"},
		{"logfile and env", func(d *vm.Daemon) { d.LogfileBackups = 3; d.Environment = map[string]string{"A": "1"} }, "logfile, environment"},
	}
	for _, c := range cases {
		cur := base
		c.edit(&cur)
		if got := strings.Join(needRestart(base, cur), ", "); got != c.want {
			t.Errorf("%s: needRestart = %q, want %q", c.name, got, c.want)
		}
	}
}
