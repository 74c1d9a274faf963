package repl

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultHistoryFile returns the REPL history file, $XDG_STATE_HOME/tend/history
// or ~/.local/state/tend/history, creating its directory. It returns ""
// and an error when there is no usable place.
func DefaultHistoryFile() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) { // the XDG spec says to ignore relative paths
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("history: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "tend")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("history: %w", err)
	}
	return filepath.Join(dir, "history"), nil
}
