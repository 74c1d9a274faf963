// Package version says which tend a binary is. A release build stamps its
// version at link time:
//
//	go build -ldflags "-X github.com/tend-sh/tend/version.stamped=1.2.0" ./cmd/tend
//
// Without a stamp, the version is the one Go recorded in the binary: the
// main module's version (a tag, or a pseudo-version such as
// v0.0.0-20261203154832-beda24a1b2c3 when built from a git checkout), else
// "devel" with the VCS revision when Go knows it ("devel+beda24a1b2c3",
// "+dirty" for uncommitted changes), else plain "devel".
//
// This is tend's own version. The supervisord version tend is compatible
// with, which XML-RPC clients read, is control.SupervisorVersion.
package version

import (
	"runtime/debug"
	"strings"
)

// stamped is set by -ldflags -X at link time; empty in other builds. It
// is never written at run time.
var stamped string

// String returns tend's version.
func String() string { return resolve(stamped, debug.ReadBuildInfo) }

// resolve picks the version from the stamp, else from the build info read
// returns.
func resolve(stamp string, read func() (*debug.BuildInfo, bool)) string {
	if s := strings.TrimSpace(stamp); s != "" {
		return s
	}
	bi, ok := read()
	if !ok || bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel+" + rev[:min(len(rev), 12)] + dirty
}
