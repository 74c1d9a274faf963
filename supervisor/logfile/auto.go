package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
)

// DefaultIdentifier is supervisord's default [supervisord] identifier, which
// appears in AUTO log names.
const DefaultIdentifier = "supervisor"

// autoChars are the characters of Python's tempfile random names.
const autoChars = "abcdefghijklmnopqrstuvwxyz0123456789_"

// autoTries is Python's tempfile.TMP_MAX.
const autoTries = 10000

// AutoName creates (O_EXCL, mode 0600) and returns a new unique file name in
// dir for an AUTO log, as supervisord names it:
// "<procname>-<channel>---supervisor-<8 random chars [a-z0-9_]>.log"
// (channel "stdout"/"stderr"). dir "" = os.TempDir().
func AutoName(dir, procname, channel string) (string, error) {
	return AutoNameIdent(dir, DefaultIdentifier, procname, channel)
}

// AutoNameIdent is AutoName with supervisord's identifier option in place
// of "supervisor".
func AutoNameIdent(dir, ident, procname, channel string) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	prefix := procname + "-" + channel + "---" + ident + "-"
	var rnd [8]byte
	var err error
	for range autoTries {
		for i := range rnd {
			rnd[i] = autoChars[rand.IntN(len(autoChars))]
		}
		name := filepath.Join(dir, prefix+string(rnd[:])+".log")
		var fp *os.File
		fp, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err := fp.Close(); err != nil {
				return "", fmt.Errorf("auto log name in %s: %w", dir, err)
			}
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return "", fmt.Errorf("auto log name in %s: %w", dir, err)
}

// CleanAuto removes AUTO log files (pattern "*---supervisor-*.log" plus
// their .N backups) in dir, as supervisord does at start-up. dir "" =
// os.TempDir(). It removes what it can and returns the failures joined; an
// unreadable dir is an error too (supervisord logs a warning for both).
func CleanAuto(dir string) error {
	return CleanAutoIdent(dir, DefaultIdentifier)
}

// CleanAutoIdent is CleanAuto with supervisord's identifier option in place
// of "supervisor".
func CleanAutoIdent(dir, ident string) error {
	if dir == "" {
		dir = os.TempDir()
	}
	// supervisord: re.match(r'.+?---%s-\S+\.log\.{0,1}\d{0,4}'), which
	// only anchors the start.
	re, err := regexp.Compile(`^.+?---` + regexp.QuoteMeta(ident) + `-\S+\.log`)
	if err != nil {
		return fmt.Errorf("clean auto logs in %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean auto logs in %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !re.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean auto logs in %s: %w", dir, err)
	}
	return nil
}
