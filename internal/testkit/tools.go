package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireTool returns the path of an external program a test needs
// (supervisorctl, tmux, chromium). Without it the test is skipped, or
// fails under CI=true, where every tool must be installed.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if strings.EqualFold(os.Getenv("CI"), "true") {
		tb.Fatalf("%s is required under CI=true but was not found: %v", name, err)
	}
	tb.Skipf("%s not installed; skipping", name)
	return ""
}

// BuildTend builds the tend command into dir and returns the binary's
// path, for end-to-end tests (call it from TestMain, once per package).
func BuildTend(dir string) (string, error) {
	return buildTend(filepath.Join(dir, "tend"))
}

// BuildTendVersion builds the tend command as bin with its version stamped
// (go build -ldflags -X, as a release is), for tests that need two tends
// that differ in version.
func BuildTendVersion(bin, version string) (string, error) {
	return buildTend(bin, "-ldflags", "-X github.com/tend-sh/tend/version.stamped="+version)
}

func buildTend(bin string, flags ...string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	args := append(append([]string{"build", "-o", bin}, flags...), "./cmd/tend")
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tend: %w\n%s", err, out)
	}
	return bin, nil
}
