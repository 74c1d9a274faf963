package tend_test

import (
	"os"
	"testing"

	"github.com/tend-sh/tend/internal/testkit"
)

// TestMain fails the package when a test leaves a process or a file behind
// (here: in the repository's top folder).
func TestMain(m *testing.M) { os.Exit(testkit.Run(m)) }
