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
// promptly: gopher-lua cannot interrupt a Go function, so nothing in this
// package blocks on I/O that can hang (no network, bounded file reads).
package stdlib
