package logfile

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHandlerFormat(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelInfo)
	r := slog.NewRecord(time.Date(2026, 11, 23, 20, 27, 7, 268_900_000, time.Local), slog.LevelInfo, "spawned: 'quick' with pid 8362", 0)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "2026-11-23 20:27:07,268 INFO spawned: 'quick' with pid 8362\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHandlerLines(t *testing.T) {
	ts := `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} `
	tests := []struct {
		name string
		log  func(*slog.Logger)
		re   string
	}{
		{"info", func(l *slog.Logger) { l.Info("supervisord started with pid 8357") }, ts + `INFO supervisord started with pid 8357\n$`},
		{"crit", func(l *slog.Logger) { l.Log(context.Background(), LevelCrit, "Supervisor is running as root.") }, ts + `CRIT Supervisor is running as root\.\n$`},
		{"error", func(l *slog.Logger) { l.Error("e") }, ts + `ERRO e\n$`},
		{"warn", func(l *slog.Logger) { l.Warn("w") }, ts + `WARN w\n$`},
		{"debug", func(l *slog.Logger) { l.Debug("d") }, ts + `DEBG d\n$`},
		{"trace", func(l *slog.Logger) { l.Log(context.Background(), LevelTrace, "t") }, ts + `TRAC t\n$`},
		{"blather", func(l *slog.Logger) { l.Log(context.Background(), LevelBlather, "b") }, ts + `BLAT b\n$`},
		{"between levels", func(l *slog.Logger) { l.Log(context.Background(), slog.LevelInfo+2, "x") }, ts + `INFO x\n$`},
		{"child output echo", func(l *slog.Logger) { l.Debug("'quick' stdout output:\nhi\n") }, ts + `DEBG 'quick' stdout output:\nhi\n\n$`},
		{"attrs", func(l *slog.Logger) { l.Info("m", "pid", 42, "name", "a b", "empty", "", "ok", true) }, ts + `INFO m pid=42 name="a b" empty="" ok=true\n$`},
		{"with attrs and group", func(l *slog.Logger) {
			l.With("a", 1).WithGroup("g").With("b", 2).Info("m", "c", 3, slog.Group("h", "d", 4))
		}, ts + `INFO m a=1 g\.b=2 g\.c=3 g\.h\.d=4\n$`},
		{"error attr", func(l *slog.Logger) { l.Info("m", "err", errors.New("boom x")) }, ts + `INFO m err="boom x"\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewHandler(&buf, LevelBlather)))
			if !regexp.MustCompile(tt.re).MatchString(buf.String()) {
				t.Errorf("%q does not match %s", buf.String(), tt.re)
			}
		})
	}
}

func TestHandlerFiltering(t *testing.T) {
	levels := []slog.Level{LevelBlather, LevelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, LevelCrit}
	tests := []struct {
		min  slog.Level
		want string
	}{
		{LevelBlather, "BLAT TRAC DEBG INFO WARN ERRO CRIT"},
		{LevelTrace, "TRAC DEBG INFO WARN ERRO CRIT"},
		{slog.LevelDebug, "DEBG INFO WARN ERRO CRIT"},
		{slog.LevelInfo, "INFO WARN ERRO CRIT"},
		{slog.LevelWarn, "WARN ERRO CRIT"},
		{slog.LevelError, "ERRO CRIT"},
		{LevelCrit, "CRIT"},
	}
	for _, tt := range tests {
		t.Run(LevelName(tt.min), func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(NewHandler(&buf, tt.min))
			for _, lv := range levels {
				l.Log(context.Background(), lv, "x")
			}
			var got []string
			for _, ln := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				got = append(got, strings.Fields(ln)[2])
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
	// A LevelVar changes the minimum on the fly.
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	h := NewHandler(&bytes.Buffer{}, &lv)
	if h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info enabled at warn")
	}
	lv.Set(slog.LevelDebug)
	if !h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info disabled at debug")
	}
}

// The main log: a Handler on a rotating File writes one line per chunk.
func TestHandlerOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supervisord.log")
	f, err := Open(path, 200, 2)
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(NewHandler(f, slog.LevelInfo))
	for i := range 20 {
		l.Info("spawned: 'quick' with pid", "n", i)
	}
	f.Close()
	for _, p := range []string{path, path + ".1", path + ".2"} {
		s := readString(t, p)
		if p != path && s == "" {
			t.Errorf("%s is empty", p)
		}
		if s != "" && !strings.HasSuffix(s, "\n") || strings.Count(s, "INFO") != strings.Count(s, "\n") {
			t.Errorf("%s: torn lines %q", p, s)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"critical", LevelCrit, true},
		{"error", slog.LevelError, true},
		{"warn", slog.LevelWarn, true},
		{"info", slog.LevelInfo, true},
		{"debug", slog.LevelDebug, true},
		{"trace", LevelTrace, true},
		{"blather", LevelBlather, true},
		{"INFO", slog.LevelInfo, true},
		{"warning", 0, false},
		{"", 0, false},
		{"crit", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v", tt.in, got, err)
		}
	}
}
