package vm

import (
	"os"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
)

// TestMain fails the package when a test leaves a process or a file behind.
func TestMain(m *testing.M) { os.Exit(testkit.Run(m)) }
