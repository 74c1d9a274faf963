package supervisordconf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tend-sh/tend/vm/supervisordconf"
)

// TestConvertSyntaxErrors checks that a line that is neither a section,
// an option nor a comment fails the import with its file:line.
func TestConvertSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"not an option", "[program:x]\ncommand=/bin/true\nthis is not an option\n",
			`bad.conf:3: in [program:x]: not a section, an option (key = value) or a comment: "this is not an option"`},
		{"option before any section", "; header\ncommand=/bin/true\n",
			`bad.conf:2: no [section] header before "command=/bin/true"`},
		{"empty key", "[supervisord]\n = 1\n",
			`bad.conf:2: in [supervisord]: not a section, an option (key = value) or a comment: "= 1"`},
		{"unclosed section", "[program:x\ncommand=/bin/true\n",
			`bad.conf:1: no [section] header before "[program:x"`},
		{"include without files", "[supervisord]\n\n[include]\nfile=conf.d/*.conf\n",
			`bad.conf:3: [include] has no files= setting (supervisord refuses it: ".ini file has [include] section, but no files setting")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := supervisordconf.Convert("bad.conf", tt.src, "test")
			var se *supervisordconf.SyntaxError
			if !errors.As(err, &se) || err.Error() != tt.want {
				t.Errorf("err = %v, want SyntaxError %s", err, tt.want)
			}
		})
	}
}

func TestImportFileUnreadable(t *testing.T) {
	_, err := supervisordconf.ImportFile("/nonexistent/supervisord.conf", "test")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/supervisord.conf: no such file or directory") {
		t.Fatalf("err = %v, want a no-such-file error naming the path", err)
	}
}

// TestConvertWarnings checks what the import keeps as comments and warns
// about, and that it still succeeds.
func TestConvertWarnings(t *testing.T) {
	tests := []struct {
		name, src string
		warnings  []string // exact
		lua       []string // substrings of the output
	}{
		{"unknown option", "[program:x]\ncommand=/bin/true\n\nbogus = 1 ; why\n",
			[]string{`x.conf:4: [program:x]: unknown option "bogus"; kept as a comment`},
			[]string{"  -- bogus = 1  (line 4: unknown option, not imported)\n"}},
		{"eventlistener", "[eventlistener:mem]\ncommand=memmon -a 200MB\nevents=PROCESS_STATE, TICK_60\nbuffer_size=5\nresult_handler=mod:fn\n",
			[]string{`x.conf:5: [eventlistener:mem]: unknown option "result_handler"; kept as a comment`},
			[]string{"eventlistener \"mem\" {\n  command     = \"memmon -a 200MB\",\n  events      = { \"PROCESS_STATE\", \"TICK_60\" },\n  buffer_size = 5,\n"}},
		{"fcgi-program", "[fcgi-program:f]\nsocket=unix:///run/%(program_name)s.sock\nsocket_mode=0660\nsocket_owner=www-data:www-data\nsocket_backlog=64\ncommand=/usr/bin/app\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n",
			nil,
			[]string{"fcgi_program \"f\" {\n", `command        = "/usr/bin/app",`, "numprocs       = 2,", `socket         = "unix:///run/%(program_name)s.sock",`,
				"socket_backlog = 64,", `socket_owner   = "www-data:www-data",`, `socket_mode    = "0660",`}},
		{"unknown section", "[mystuff]\na=1\n",
			[]string{`x.conf:1: [mystuff]: not a supervisord section; kept as a comment`},
			[]string{"-- [mystuff] (line 1) not imported: not a supervisord section.\n"}},
		{"environment supervisord refuses", "[program:x]\ncommand=/bin/true\nenvironment=A=foo@bar\n",
			[]string{`x.conf:3: [program:x]: environment: cannot parse "A=foo@bar" (supervisord would refuse it too); kept as a string`},
			[]string{`environment = "A=foo@bar",`}},
		{"number from the environment", "[program:x]\ncommand=/bin/true\nnumprocs=%(ENV_N)s\nautostart=%(ENV_A)s\n",
			nil, // tend expands every value before decoding it, as supervisord does
			[]string{`numprocs  = "%(ENV_N)s",`, `autostart = "%(ENV_A)s",`}},
		{"http without credentials", "[inet_http_server]\nport=9001\n",
			[]string{`x.conf:1: [inet_http_server]: no username and password: the HTTP server accepts anyone (allow_no_auth = true)`},
			[]string{"  http = {\n    listen        = \":9001\",\n    allow_no_auth = true,\n  },\n"}},
		{"http on every interface", "[inet_http_server]\nport=*:9001\nusername=u\npassword=p\n",
			nil,
			[]string{`listen   = ":9001",`}},
		{"daemon environment with an expansion", "[supervisord]\nenvironment=H=%(ENV_HOME)s\n",
			nil,
			[]string{`H = "%(ENV_HOME)s",`}},
		{"include globs with and without an extension", "[include]\nfiles=/etc/sv/conf.d/*.conf /etc/sv/more.d/*\n",
			[]string{`x.conf:2: [include]: the included files are INI: convert each one: for f in /etc/sv/conf.d/*.conf; do tend import "$f" > "${f%.conf}.lua"; done; for f in /etc/sv/more.d/*; do tend import "$f" > "$f.lua"; done`},
			[]string{"-- files = /etc/sv/conf.d/*.conf\ninclude \"/etc/sv/conf.d/*.lua\"\n-- files = /etc/sv/more.d/*\ninclude \"/etc/sv/more.d/*.lua\"\n"}},
		{"include with files from [DEFAULT]", "[DEFAULT]\nfiles=/etc/sv/*.conf\n\n[include]\n",
			[]string{`x.conf:2: [include]: the included files are INI: convert each one: for f in /etc/sv/*.conf; do tend import "$f" > "${f%.conf}.lua"; done`},
			[]string{`include "/etc/sv/*.lua"`}},
		{"socket password", "[unix_http_server]\nfile=/run/s.sock\nusername=u\npassword=secret\n",
			[]string{`x.conf:3: [unix_http_server]: username: tend's socket has no password; its mode (chmod) controls access`,
				`x.conf:4: [unix_http_server]: password: tend's socket has no password; its mode (chmod) controls access`},
			[]string{`path = "/run/s.sock",`, "-- username = u: not supported", "-- password = (not copied): not supported"}},
		{"daemon user", "[supervisord]\nuser=nobody\nnodaemon=true\nminprocs=200\n",
			nil,
			[]string{`user = "nobody"`, "-- nodaemon = true: tend runs in the foreground", "-- minprocs = 200: not applicable"}},
		{"skipped sections", "[supervisorctl]\nserverurl=unix:///tmp/s.sock\n\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
			nil,
			[]string{"-- [supervisorctl] (line 1) skipped", "-- [rpcinterface:supervisor] (line 4) skipped"}},
		{"quoting", "[program:x]\ncommand=/bin/echo \"a\\b\" \t'c'\nenvironment=\"END\"=\"x\"\n", // a quoted key: refused
			[]string{`x.conf:3: [program:x]: environment: cannot parse "\"END\"=\"x\"" (supervisord would refuse it too); kept as a string`},
			[]string{`command     = "/bin/echo \"a\\b\" \t'c'",`, `environment = "\"END\"=\"x\"",`}},
		{"DEFAULT applies where supervisord reads the option", "[DEFAULT]\nautorestart=true\nport=9001\n\n[program:x]\ncommand=/bin/true\n\n[program:y]\ncommand=/bin/false\nautorestart=false\n",
			nil,
			[]string{"program \"x\" {\n  command     = \"/bin/true\",\n  autorestart = true,\n}\n",
				"program \"y\" {\n  command     = \"/bin/false\",\n  autorestart = false,\n}\n",
				"-- [DEFAULT] (line 1): its options were copied"}},
		{"environment keys", "[program:x]\ncommand=/bin/true\nenvironment=end=1,A.B=2,A=1,A=3\n",
			nil,
			[]string{"    [\"end\"] = \"1\",\n    [\"A.B\"] = \"2\",\n    A       = \"3\",\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := supervisordconf.Convert("x.conf", tt.src, "test")
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			var got []string
			for _, w := range res.Warnings {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.warnings, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.warnings, "\n"))
			}
			for _, s := range tt.lua {
				if !strings.Contains(res.Lua, s) {
					t.Errorf("output lacks %q:\n%s", s, res.Lua)
				}
			}
		})
	}
}

// TestConvertHeader checks the header and that a file without server
// sections (an included file) gets no daemon{} block, which would clash
// with the including config's.
func TestConvertHeader(t *testing.T) {
	res, err := supervisordconf.Convert("conf.d/x.conf", "[program:x]\ncommand=/bin/true\n", "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Lua, "-- Imported from conf.d/x.conf by tend import (tend 1.2.3).\n") {
		t.Errorf("header:\n%s", res.Lua)
	}
	if strings.Contains(res.Lua, "daemon") {
		t.Errorf("daemon block in a file without [supervisord]:\n%s", res.Lua)
	}
}
