package vm

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fileLine is a "tend.lua:12" anywhere in a message.
var fileLine = regexp.MustCompile(`tend\.lua:\d+`)

// FuzzLoad loads fuzzed config text. Load must never panic, must return
// within a bound even for configs that loop, block or allocate, and every
// error line must name tend.lua:line. Seeds are below and in
// testdata/fuzz/FuzzLoad; run with go test -fuzz=FuzzLoad ./vm.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		`program "web" { command = "sleep 1" }`,
		"program \"web\" {\n  command = = 1\n}",
		"program \"web\" {\n command = \"x\"\n",
		`program "w" { command = "x", numprocs = 2, process_name = "%(program_name)s_%(process_num)02d" }`,
		`group "g" { programs = { "a" } }`,
		`daemon { hook_timeout = "x" }`,
		`while true do end`,
		`local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1e6) end`,
		`error(nil)`,
		`include "nosuch.lua"`,
		`require "fs".read("tend.lua")`,
		"x = [[\n",
		"--[==[\n",
		`program { name = "a", command = { "sh", "-c", "exit 0" }, on_exit = function() return "stop" end }`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "tend.lua")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		bounded(t, "Load", 20*time.Second, func() {
			var v *VM
			v, _, err = Load(ctx, path, Options{LoadTimeout: 300 * time.Millisecond, MemoryLimit: 32 << 20, StuckGrace: 300 * time.Millisecond})
			if err == nil {
				v.Close()
			}
		})
		if err == nil {
			return
		}
		msg := strings.ReplaceAll(err.Error(), dir+"/", "")
		for _, line := range strings.Split(msg, "\n") {
			if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ") {
				continue // continuation of the line above (require's search list)
			}
			if !fileLine.MatchString(line) {
				t.Errorf("error line without tend.lua:line: %q\nfull error:\n%s", line, msg)
			}
		}
	})
}
