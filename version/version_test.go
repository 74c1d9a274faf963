package version

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	info := func(main string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/tend-sh/tend", Version: main}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name  string
		stamp string
		read  func() (*debug.BuildInfo, bool)
		want  string
	}{
		{"stamp wins", "1.2.0", info("v0.0.0-20261203154832-beda24a1b2c3"), "1.2.0"},
		{"blank stamp ignored", "  ", info("v1.0.0"), "v1.0.0"},
		{"module version", "", info("v1.0.0"), "v1.0.0"},
		{"pseudo-version", "", info("v0.0.0-20261203154832-beda24a1b2c3+dirty"), "v0.0.0-20261203154832-beda24a1b2c3+dirty"},
		{"devel with revision", "", info("(devel)", "vcs.revision", "beda24a1b2c3d4e5f6", "vcs.modified", "false"), "devel+beda24a1b2c3"},
		{"devel dirty", "", info("(devel)", "vcs.revision", "beda24a", "vcs.modified", "true"), "devel+beda24a+dirty"},
		{"devel, no vcs", "", info("(devel)"), "devel"},
		{"no build info", "", none, "devel"},
	}
	for _, tt := range tests {
		if got := resolve(tt.stamp, tt.read); got != tt.want {
			t.Errorf("%s: resolve = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestStringIsNotSupervisords keeps tend from claiming supervisord's
// version as its own.
func TestStringIsNotSupervisords(t *testing.T) {
	if v := String(); v == "" || v == "4.2.5" {
		t.Fatalf("String() = %q", v)
	}
}
