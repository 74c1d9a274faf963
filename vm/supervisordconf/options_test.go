package supervisordconf_test

import (
	"cmp"
	"strings"
	"testing"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/vm/supervisordconf"
)

// TestImportKnowsEveryOption converts each supervisord program option of
// supervisor.ProgramOptions: none may be reported unknown, and each is
// written into the block; tend's own options (hook_timeout) are unknown
// to a supervisord config and are kept as comments.
func TestImportKnowsEveryOption(t *testing.T) {
	for _, o := range supervisor.ProgramOptions {
		src := "[program:x]\ncommand=/bin/true\n"
		if o.Listener {
			src = "[eventlistener:x]\ncommand=/bin/true\nevents=EVENT\n"
		}
		if o.FCGI {
			src = "[fcgi-program:x]\ncommand=/bin/true\n"
		}
		if o.Name != "command" && o.Name != "events" {
			src += o.Name + "=" + cmp.Or(o.Default, o.Example) + "\n"
		}
		res, err := supervisordconf.Convert("x.conf", src, "test")
		if err != nil {
			t.Fatalf("%s: %v", o.Name, err)
		}
		unknown := false
		for _, w := range res.Warnings {
			unknown = unknown || strings.Contains(w.Msg, "unknown option")
		}
		written := strings.Contains(res.Lua, "\n  "+o.Name+" ")
		if o.Tend && (!unknown || written) || !o.Tend && (unknown || !written) {
			t.Errorf("%s (tend's own: %v): unknown %v, written %v:\n%s%v", o.Name, o.Tend, unknown, written, res.Lua, res.Warnings)
		}
	}
}
