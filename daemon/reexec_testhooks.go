package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/tend-sh/tend/version"
)

// Test hooks of the re-exec, for the end-to-end tests that must act inside
// its window (cmd/tend/reexec_e2e_test.go). Both are inert unless their
// variable is set in the daemon's environment.
const (
	// holdEnv names a folder: with the engine frozen and the new binary
	// checked, the daemon creates DIR/frozen and waits (up to holdMax)
	// for DIR/go before it answers and execs. A test makes a child exit
	// there, or breaks the binary.
	holdEnv = "TEND_TEST_REEXEC_HOLD"
	// failEnv is a version: a binary of that version fails to resume (as
	// if it could not), which exercises the fallback to the previous one.
	failEnv = "TEND_TEST_RESUME_FAIL"
)

// holdMax bounds the hold of holdEnv.
const holdMax = 30 * time.Second

// testHold waits at the hold point of holdEnv, if set.
func testHold() {
	dir := os.Getenv(holdEnv)
	if dir == "" {
		return
	}
	os.WriteFile(filepath.Join(dir, "frozen"), nil, 0o644)
	for deadline := time.Now().Add(holdMax); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			os.Remove(filepath.Join(dir, "go"))
			return
		}
	}
}

// testResumeFail is the failure failEnv asks this binary for, or nil.
func testResumeFail() error {
	if v := os.Getenv(failEnv); v != "" && v == version.String() {
		return errors.New("resume failed on purpose (" + failEnv + ")")
	}
	return nil
}
