package logfile

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

func TestAutoName(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		dir, ident, proc, channel string
		re                        string
	}{
		{dir, "", "quick", "stdout", `^quick-stdout---supervisor-[a-z0-9_]{8}\.log$`},
		{dir, "", "web_01", "stderr", `^web_01-stderr---supervisor-[a-z0-9_]{8}\.log$`},
		{dir, "tend", "app", "stdout", `^app-stdout---tend-[a-z0-9_]{8}\.log$`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		for range 20 {
			var name string
			var err error
			if tt.ident == "" {
				name, err = AutoName(tt.dir, tt.proc, tt.channel)
			} else {
				name, err = AutoNameIdent(tt.dir, tt.ident, tt.proc, tt.channel)
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(name) != dir {
				t.Errorf("%s not in %s", name, dir)
			}
			if !regexp.MustCompile(tt.re).MatchString(filepath.Base(name)) {
				t.Errorf("%s does not match %s", name, tt.re)
			}
			if seen[name] {
				t.Errorf("duplicate %s", name)
			}
			seen[name] = true
			st, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 || st.Size() != 0 {
				t.Errorf("%s: mode %v size %d", name, st.Mode().Perm(), st.Size())
			}
		}
	}
	if _, err := AutoName(filepath.Join(dir, "missing"), "p", "stdout"); err == nil {
		t.Error("AutoName in a missing dir succeeded")
	}
}

func TestAutoNameTempDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	name, err := AutoName("", "p", "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(name) != tmp {
		t.Errorf("%s not in TMPDIR %s", name, tmp)
	}
}

func TestCleanAuto(t *testing.T) {
	dir := t.TempDir()
	remove := []string{
		"quick-stdout---supervisor-l1oz_y4x.log",
		"quick-stdout---supervisor-l1oz_y4x.log.1",
		"quick-stdout---supervisor-l1oz_y4x.log.10",
		"auto-stderr---supervisor-58_yod5k.log",
		"x---supervisor-y.log.3",
	}
	keep := []string{
		"quick.log",
		"quick.log.1",
		"---supervisor-abc.log",        // needs a name before ---
		"a---supervisor-.log",          // needs a character after the dash
		"a-stdout---tend-abcdefgh.log", // other identifier
		"a---supervisor-abc.txt",
	}
	for _, n := range append(append([]string{}, remove...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d---supervisor-x.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CleanAuto(dir); err != nil {
		t.Fatal(err)
	}
	var got []string
	for n := range listDir(t, dir) {
		got = append(got, n)
	}
	want := append(append([]string{}, keep...), "d---supervisor-x.log")
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("left %v, want %v", got, want)
		}
	}
	if err := CleanAutoIdent(dir, "tend"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a-stdout---tend-abcdefgh.log")); !os.IsNotExist(err) {
		t.Errorf("identifier tend not cleaned: %v", err)
	}
	if err := CleanAuto(filepath.Join(dir, "missing")); err == nil {
		t.Error("CleanAuto of a missing dir succeeded")
	}
}

// AutoName's files and their rotations are found by CleanAuto.
func TestAutoNameCleanAutoRoundTrip(t *testing.T) {
	dir := t.TempDir()
	name, err := AutoName(dir, "p", "stdout")
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenMode(name, 10, 3, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		f.Write([]byte("0123456789"))
	}
	f.Close()
	if n := len(listDir(t, dir)); n != 4 {
		t.Fatalf("%d files, want 4", n)
	}
	if err := CleanAuto(dir); err != nil {
		t.Fatal(err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}
