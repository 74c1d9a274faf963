// Package testkit holds the helpers tend's tests share: a fake clock for
// the engine, a goroutine-safe buffer for loggers, an event recorder whose
// waits are driven by the events themselves, deadline waits for what has
// no event (files, external daemons), free ports and a control server on
// a temporary unix socket.
//
// It imports only the standard library, so that every package's tests,
// the engine's own in-package tests included, can use it. Helpers that
// need a supervisor.Engine live in testkit/enginekit, which the engine's
// in-package tests cannot import (it imports the engine).
package testkit
