package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/tend-sh/tend/supervisor/logfile"
)

// switchHandler forwards records to a handler that can be replaced once
// the daemon's log settings are known (the config is loaded with a
// stderr-only log first).
type switchHandler struct {
	cur *atomic.Pointer[slog.Handler]
}

func newSwitchHandler(h slog.Handler) switchHandler {
	p := new(atomic.Pointer[slog.Handler])
	p.Store(&h)
	return switchHandler{cur: p}
}

func (s switchHandler) set(h slog.Handler) { s.cur.Store(&h) }

func (s switchHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return (*s.cur.Load()).Enabled(ctx, l)
}

func (s switchHandler) Handle(ctx context.Context, r slog.Record) error {
	return (*s.cur.Load()).Handle(ctx, r)
}

// WithAttrs and WithGroup bind to the handler current at call time; the
// daemon only uses them after the switch.
func (s switchHandler) WithAttrs(a []slog.Attr) slog.Handler { return (*s.cur.Load()).WithAttrs(a) }
func (s switchHandler) WithGroup(n string) slog.Handler      { return (*s.cur.Load()).WithGroup(n) }

// mainLog is the daemon's own log: a rotating file in supervisord's line
// format, echoed to stderr in the foreground.
type mainLog struct {
	file  *logfile.File
	level *slog.LevelVar
}

// openMainLog opens path (creating its directory) with rotation, at the
// given supervisord level name.
func openMainLog(path string, maxBytes int64, backups int, level string, echo io.Writer) (*mainLog, slog.Handler, error) {
	lv, err := logfile.ParseLevel(level)
	if err != nil {
		return nil, nil, fmt.Errorf("daemon loglevel: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := logfile.Open(path, maxBytes, backups)
	if err != nil {
		return nil, nil, fmt.Errorf("open daemon log: %w", err)
	}
	ml := &mainLog{file: f, level: new(slog.LevelVar)}
	ml.level.Set(lv)
	var w io.Writer = f
	if echo != nil && !f.PassThrough() {
		w = io.MultiWriter(f, echo)
	}
	return ml, logfile.NewHandler(w, ml.level), nil
}
