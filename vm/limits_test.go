package vm

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/supervisor"
)

// The limit options reach the Spec in each of their spellings.
func TestLimitOptions(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want func(s *supervisor.Spec)
	}{
		{`max_memory = "500MB", max_memory_for = 30`, func(s *supervisor.Spec) { s.MaxMemory, s.MaxMemoryFor = 500<<20, 30*time.Second }},
		{`start_limit = { burst = 5, interval = "60s" }`, func(s *supervisor.Spec) { s.StartLimit = supervisor.StartLimit{Burst: 5, Interval: time.Minute} }},
		{`start_limit = { burst = 1, interval = 2.5 }`, func(s *supervisor.Spec) {
			s.StartLimit = supervisor.StartLimit{Burst: 1, Interval: 2500 * time.Millisecond}
		}},
		{`start_limit = {}`, func(s *supervisor.Spec) {}},
		{`permanent_exitcodes = { 125, 2 }`, func(s *supervisor.Spec) { s.PermanentExitCodes = []int{125, 2} }},
		{`permanent_exitcodes = {}`, func(s *supervisor.Spec) {}},
	} {
		_, cfg := loadSource(t, `program "x" { command = "true", `+tt.src+` }`, Options{})
		got := cfg.Specs[0]
		want := got
		want.MaxMemory, want.MaxMemoryFor, want.StartLimit, want.PermanentExitCodes = 0, 0, supervisor.StartLimit{}, nil
		tt.want(&want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v", tt.src, got)
		}
	}
}

// A bad limit is a config error that names the option.
func TestLimitOptionErrors(t *testing.T) {
	for src, want := range map[string]string{
		`start_limit = 5`:                            "start_limit must be a table { burst = N, interval = seconds }: got 5",
		`start_limit = { burst = 5 }`:                "start_limit must be a table { burst = N, interval = seconds }: interval is missing",
		`start_limit = { burst = 0, interval = 1 }`:  "start_limit.burst must be",
		`start_limit = { burst = 2, interval = -1 }`: "start_limit.interval must be a number > 0",
		`start_limit = { burts = 2, interval = 1 }`:  "unknown key burts",
		`permanent_exitcodes = { 300 }`:              "permanent_exitcodes: exitcodes must be a list of integers from 0 to 255",
		`max_memory = "lots"`:                        "max_memory",
	} {
		got := loadError(t, map[string]string{"tend.lua": `program "x" { command = "true", ` + src + ` }`})
		if !strings.Contains(got, want) || !strings.HasPrefix(got, "tend.lua:1:") {
			t.Errorf("%s: error %q, want it to hold %q", src, got, want)
		}
	}
}
