package logfile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// supervisord's levels beyond slog's Debug/Info/Warn/Error.
const (
	// LevelCrit is supervisord's CRIT.
	LevelCrit = slog.Level(12)
	// LevelTrace is supervisord's TRAC.
	LevelTrace = slog.Level(-8)
	// LevelBlather is supervisord's BLAT.
	LevelBlather = slog.Level(-12)
)

// LevelName returns supervisord's four-letter name for l: CRIT, ERRO, WARN,
// INFO, DEBG, TRAC or BLAT. A level between two named ones takes the lower
// one's name.
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelCrit:
		return "CRIT"
	case l >= slog.LevelError:
		return "ERRO"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	case l >= slog.LevelDebug:
		return "DEBG"
	case l >= LevelTrace:
		return "TRAC"
	default:
		return "BLAT"
	}
}

// ParseLevel parses supervisord loglevel names: critical, error, warn,
// info, debug, trace, blather (case-insensitive, as supervisord lowercases
// them).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return LevelCrit, nil
	case "error":
		return slog.LevelError, nil
	case "warn":
		return slog.LevelWarn, nil
	case "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "trace":
		return LevelTrace, nil
	case "blather":
		return LevelBlather, nil
	}
	return 0, fmt.Errorf("bad logging level name %q", s)
}

// timeLayout is supervisord's asctime: local time, comma before the
// milliseconds.
const timeLayout = "2006-01-02 15:04:05,000"

// Handler is a slog.Handler that writes supervisord's main-log line format:
//
//	2026-11-23 20:27:07,268 INFO spawned: 'quick' with pid 8362
//
// (local time, comma before milliseconds), level names CRIT, ERRO, WARN,
// INFO, DEBG, TRAC, BLAT, and attributes, if any, appended as " key=value"
// (values quoted when they contain spaces, '=' , quotes or control
// characters; groups prefix keys as "group.key"). Each record is one Write
// of one line ending in "\n" (a message that ends in a newline, like
// supervisord's child output echo, keeps it, so the line ends in "\n\n" as
// in supervisord). Records below the minimum level are dropped.
type Handler struct {
	core   *handlerCore
	attrs  []byte // preformatted " k=v" from WithAttrs
	prefix string // group prefix for keys, "a.b."
}

type handlerCore struct {
	mu  sync.Mutex
	w   io.Writer
	min slog.Leveler
}

// NewHandler returns a Handler writing to w records at or above min (nil =
// slog.LevelInfo).
func NewHandler(w io.Writer, min slog.Leveler) *Handler {
	if min == nil {
		min = slog.LevelInfo
	}
	return &Handler{core: &handlerCore{w: w, min: min}}
}

// Enabled reports whether l is at or above the handler's minimum level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.core.min.Level()
}

// Handle writes r as one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	buf := make([]byte, 0, 64+len(r.Message)+len(h.attrs))
	buf = t.Local().AppendFormat(buf, timeLayout)
	buf = append(buf, ' ')
	buf = append(buf, LevelName(r.Level)...)
	buf = append(buf, ' ')
	buf = append(buf, r.Message...)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	buf = append(buf, '\n')
	h.core.mu.Lock()
	defer h.core.mu.Unlock()
	_, err := h.core.w.Write(buf)
	return err
}

// WithAttrs returns a Handler that appends attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a Handler that prefixes later attribute keys with
// name and a dot.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			buf = appendAttr(buf, p, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	s := a.Value.String()
	if a.Value.Kind() == slog.KindTime {
		s = a.Value.Time().Format(time.RFC3339Nano)
	}
	if needsQuote(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == ' ' || r == '=' || r == '"' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
