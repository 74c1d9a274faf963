// Package daemon is the running tend daemon: the engine, the Lua state of
// the current config (and of configs some groups still run under), the
// config transactions (reread, update, reload, scale), the sv module's
// view of the daemon, and the main loop that turns signals and control
// requests into those transactions.
//
// It is what control.Daemon and stdlib.Control are implemented by. The
// binary (cmd/tend) only parses flags, opens the listeners and serves the
// control plane on them.
//
// # Which Lua state runs a process's hooks
//
// Every hook of a process (on_start, on_state, on_exit, on_backoff) runs
// in the Lua state of the config its group was last started or updated
// from. `tend update g1` moves only g1 to the newly loaded state; the other
// groups keep the state they had, which stays open until no group uses it.
// So one process never runs one hook from an old config and another from a
// new one. A full update or a reload moves every group.
package daemon
