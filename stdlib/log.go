package stdlib

import (
	"context"
	"log/slog"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// loadLog returns the loader of the log module: debug, info, warn and
// error write their arguments (joined by spaces) to logger, prefixed with
// the calling script's file:line.
func loadLog(logger *slog.Logger) lua.LGFunction {
	at := func(level slog.Level) lua.LGFunction {
		return func(L *lua.LState) int {
			logger.Log(context.Background(), level, Where(L)+" "+joinArgs(L, " "))
			return 0
		}
	}
	return func(L *lua.LState) int {
		L.Push(newModule(L, map[string]lua.LGFunction{
			"debug": at(slog.LevelDebug),
			"info":  at(slog.LevelInfo),
			"warn":  at(slog.LevelWarn),
			"error": at(slog.LevelError),
		}))
		return 1
	}
}

// Where returns "file:line:" of the Lua code calling the current Go
// function, or "?:" when it is not known.
func Where(L *lua.LState) string {
	w := strings.TrimSpace(L.Where(1))
	if w == "" {
		return "?:"
	}
	return w
}

// joinArgs renders every argument with tostring semantics and joins them.
func joinArgs(L *lua.LState, sep string) string {
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
	}
	return strings.Join(parts, sep)
}
