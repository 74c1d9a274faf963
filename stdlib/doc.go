// Package stdlib holds the Lua modules a tend configuration can require:
// sys, env, shell, fs, bytes, log, json, policy and sv. Modules written in
// Go live in one file each; policy is Lua, embedded from lua/policy.lua.
//
// Preload registers every module in an LState's package.preload, so
// require "sys" resolves without touching the filesystem. The sv module
// talks to the running daemon through the Control interface, which the
// daemon implements; stdlib itself knows nothing of the daemon.
//
// Every function here runs on the VM's owner goroutine and must return
// promptly: gopher-lua cannot interrupt a Go function. So every function
// that can block in the kernel (files, /proc, the daemon) does its work on
// another goroutine under a guard and returns when L.Context() ends,
// abandoning that work (see guard.go); a new function that may block must
// do the same.
package stdlib
