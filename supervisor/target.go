package supervisor

import "strings"

// Target designates the processes an operation acts on, as supervisorctl
// and supervisord's XML-RPC name them:
//
//	"all"         every process
//	"group:*"     every process of a group ("group:" means the same)
//	"group:name"  one process of a group
//	"name"        one process whose group has its name ("name:name")
//
// ParseTarget turns a name into a Target and String turns it back; the
// engine's Start, Stop, Restart, Signal and Clear take one.
type Target struct {
	All     bool   // every process; Group and Process are empty
	Group   string // the group; "" only with All
	Process string // the process within Group; "" for the whole group

	name string // as written, for BAD_NAME messages; "" = String()
}

// AllTarget designates every process.
var AllTarget = Target{All: true}

// ParseTarget parses a supervisorctl name. It never fails: a name that
// designates nothing gives BAD_NAME when an operation resolves it.
func ParseTarget(name string) Target {
	if name == "all" {
		return AllTarget
	}
	g, p, ok := strings.Cut(name, ":")
	if !ok {
		return Target{Group: name, Process: name, name: name}
	}
	if p == "*" {
		p = ""
	}
	return Target{Group: g, Process: p, name: name}
}

// ParseNamespec parses a name as supervisord's XML-RPC methods do: like
// ParseTarget, except that "all" is an ordinary process name there.
func ParseNamespec(name string) Target {
	if name == "all" {
		return Target{Group: name, Process: name, name: name}
	}
	return ParseTarget(name)
}

// GroupTarget designates every process of a group; an unknown group gives
// BAD_NAME naming just the group, as supervisord's startProcessGroup does.
func GroupTarget(group string) Target { return Target{Group: group, name: group} }

// IsProcess reports whether t designates a single process.
func (t Target) IsProcess() bool { return !t.All && t.Process != "" }

// String returns the target as supervisorctl writes it: "all", "g:*",
// "name" or "g:name".
func (t Target) String() string {
	switch {
	case t.All:
		return "all"
	case t.Process == "":
		return t.Group + ":*"
	}
	return Namespec(t.Group, t.Process)
}

// label is the target as its user wrote it, for messages.
func (t Target) label() string {
	if t.name != "" {
		return t.name
	}
	return t.String()
}
