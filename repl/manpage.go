package repl

import (
	"fmt"
	"strings"
)

// ManPage returns tend(1) in roff, from the command table: the synopsis,
// each command with its arguments, summary and help text, the options
// and the files. version names the build in the page's footer.
func ManPage(version string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH TEND 1 \"\" \"tend %s\" \"User Commands\"\n", roff(version))
	b.WriteString(`.SH NAME
tend \- a process supervisor configured in Lua
.SH SYNOPSIS
.B tend
[\fB\-c\fR \fIFILE\fR] [\fB\-s\fR \fIURL\fR] [\fB\-u\fR \fIUSER\fR] [\fB\-p\fR \fIPASS\fR] \fICOMMAND\fR [\fIARGS\fR]
.br
.B tend \-\-version
.SH DESCRIPTION
tend runs and watches programs as supervisord does, with the same options, states and log rotation,
and is configured by a Lua program.
.B tend daemon
runs the supervisor; the other commands talk to a running daemon over its socket and print
what supervisorctl prints, with its exit statuses.
.SH COMMANDS
`)
	for _, c := range completable() {
		fmt.Fprintf(&b, ".TP\n.B %s", roff(c.name))
		if c.args != "" {
			fmt.Fprintf(&b, " \\fI%s\\fR", roff(c.args))
		}
		fmt.Fprintf(&b, "\n%s.\n", roff(c.summary))
		if c.help != "" {
			b.WriteString(".RS\n.nf\n")
			for _, line := range strings.Split(c.help, "\n") {
				b.WriteString(roff(helpColumns(line)) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
		}
	}
	b.WriteString(`.SH OPTIONS
Before or after the command.
`)
	for _, f := range globalFlags {
		name := `\fB` + roff(f.long) + `\fR`
		if f.short != "" {
			name = `\fB` + roff(f.short) + `\fR, ` + name
		}
		if f.value {
			name += ` \fIVALUE\fR`
		}
		fmt.Fprintf(&b, ".TP\n%s\n%s.\n", name, roff(f.desc))
	}
	b.WriteString(`.SH FILES
.TP
.I ./tend.lua\fR, \fI/etc/tend/tend.lua
The config when \fB\-c\fR is not given, the first that exists.
.TP
.I /run/tend.sock
The daemon's socket when the config names none (\fI/tmp/tend\-UID.sock\fR for other users than root).
.SH EXIT STATUS
supervisorctl's: 0 on success, 1 on an error, 2 for bad arguments of start, restart, signal, scale and eval,
3 from status when a listed process is stopped, 4 when the daemon refuses the connection (and from status
for an unknown name), 7 when a program is not running or the socket does not exist.
.SH SEE ALSO
.BR supervisord (1),
.BR supervisorctl (1)
`)
	return b.String()
}

// helpColumns lays out a help line of supervisorctl's, "usage<tabs>what
// it does", in two columns of spaces (tabs depend on the pager).
func helpColumns(line string) string {
	left, right, ok := strings.Cut(line, "\t")
	if !ok {
		return line
	}
	return strings.TrimRight(fmt.Sprintf("%-24s%s", left, strings.TrimLeft(right, "\t")), " ")
}

// roff escapes text for a roff line: backslashes, hyphens, and a leading
// dot or quote that would start a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
