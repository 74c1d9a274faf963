// Package scripts holds tend's example configurations and the sample that
// tend init prints, embedded so that the binary and the tests share them.
package scripts

import "embed"

// Init is the commented sample configuration printed by tend init: every
// option with its default.
//
//go:embed init.lua
var Init string

// Examples holds the example configurations (*.lua) and the worker script
// they run (task1.sh).
//
//go:embed example.lua pool.lua policy.lua init.lua task1.sh
var Examples embed.FS
