// Package vm is tend's Lua host. Load runs a configuration script in a
// sandboxed gopher-lua state and turns its declarations (daemon, program,
// group, include) into supervisor.Specs, reporting every mistake with its
// file:line. The VM that Load returns then serves the rest of the daemon's
// life: it implements supervisor.Policy for programs with on_exit or
// on_backoff hooks, runs on_start/on_state notifications (Observe), and
// evaluates REPL chunks (Eval).
//
// Options are declared once: program options in supervisor.ProgramOptions
// (options.go adds the few decoders a value's kind does not give), daemon{}
// options in daemonOptions (daemon.go). Decoding, unknown-option errors,
// FormatCheck and Sample (tend init) all read those tables.
//
// Invariants: one lua.LState per VM, touched only by the VM's owner
// goroutine; every call into Lua runs under a deadline (L.SetContext with
// a per-call context), so a runaway script is cancelled instead of
// stalling the daemon; callers never block longer than their own
// context. The sandbox has no io, debug, os.exit/execute/setenv/remove/
// rename, collectgarbage or _printregs, and require, dofile and loadfile
// only reach the stdlib modules and files in the configuration's folder.
package vm
