package repl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tend-sh/tend/supervisor/control/client"
)

// Shells are the shells CompletionScript writes for.
var Shells = []string{"bash", "zsh", "fish"}

// globalFlags are the options every command accepts, for completion:
// name, whether a value follows, whether that value is a file, and what
// the option is.
var globalFlags = []struct {
	short, long string
	value, file bool
	desc        string
}{
	{"-c", "--config", true, true, "config file"},
	{"-s", "--serverurl", true, false, "daemon URL: unix:///path or http://host:port"},
	{"-u", "--username", true, false, "username for HTTP authentication"},
	{"-p", "--password", true, false, "password for HTTP authentication"},
	{"-h", "--help", false, false, "print the usage"},
	{"", "--version", false, false, "print tend's version"},
}

// CompletionScript returns the completion script of shell ("bash",
// "zsh" or "fish") for the tend command: its commands and options come
// from the command table, and process and group names from the running
// daemon through the hidden command `tend __complete names|groups`,
// which CompleteWords answers.
func CompletionScript(shell string) (string, error) {
	switch shell {
	case "bash":
		return bashScript(), nil
	case "zsh":
		return zshScript(), nil
	case "fish":
		return fishScript(), nil
	}
	return "", fmt.Errorf("no completion for shell %q: want one of %s", shell, strings.Join(Shells, ", "))
}

// CompleteWords returns the words of the hidden `tend __complete KIND`:
// "names" gives every process name and group:*, "groups" every group of
// the config. Any failure gives none: completion must stay silent.
func CompleteWords(ctx context.Context, c *client.Client, kind string) []string {
	switch kind {
	case "names":
		r, err := c.Complete(ctx)
		if err != nil {
			return nil
		}
		return r.Processes
	case "groups":
		procs, err := c.Avail(ctx)
		if err != nil {
			return nil
		}
		var out []string
		for _, p := range procs {
			if !slices.Contains(out, p.Group) {
				out = append(out, p.Group)
			}
		}
		slices.Sort(out)
		return out
	}
	return nil
}

// completable returns the commands a shell offers: all but the REPL's
// builtins.
func completable() []command {
	return slices.DeleteFunc(slices.Clone(commands), func(c command) bool { return c.at == shellCmd })
}

// valueFlags returns the global options that take a value, and those of
// them whose value is a file.
func valueFlags() (all, files []string) {
	for _, f := range globalFlags {
		if !f.value {
			continue
		}
		for _, n := range []string{f.short, f.long} {
			all = append(all, n)
			if f.file {
				files = append(files, n)
			}
		}
	}
	all = append(all, "--configuration")
	files = append(files, "--configuration")
	return all, files
}

// kindWord names what a command's arguments are in the scripts.
func (k argKind) word() string {
	return [...]string{argNone: "none", argNames: "names", argGroups: "groups", argCommands: "commands",
		argFile: "file", argShells: "shells"}[k]
}

func bashScript() string {
	var names, globals []string
	for _, c := range completable() {
		names = append(names, c.name)
	}
	for _, f := range globalFlags {
		if f.short != "" {
			globals = append(globals, f.short)
		}
		globals = append(globals, f.long)
	}
	vals, files := valueFlags()
	var cases strings.Builder
	for _, c := range completable() {
		fmt.Fprintf(&cases, "        %s) kind=%s flags=%q ;;\n", c.name, c.complete.word(), strings.Join(c.flags, " "))
	}
	return `# bash completion for tend, written by ` + "`tend completion bash`" + `.
# Load it with: source <(tend completion bash)
# or install it: tend completion bash > /etc/bash_completion.d/tend
_tend() {
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -ra words <<< "$line"
    local cur=""
    if [[ $line != *[[:space:]] && ${#words[@]} -gt 1 ]]; then
        cur=${words[${#words[@]}-1]}
        unset "words[${#words[@]}-1]"
    fi
    local prev=${words[${#words[@]}-1]}
    local commands="` + strings.Join(names, " ") + `"
    local cmd="" i
    for ((i = 1; i < ${#words[@]}; i++)); do
        case ${words[i]} in
            ` + strings.Join(vals, "|") + `) ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done
    COMPREPLY=()
    case $prev in
        ` + strings.Join(files, "|") + `|--history) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        ` + strings.Join(slices.DeleteFunc(slices.Clone(vals), func(v string) bool { return slices.Contains(files, v) }), "|") + `) return ;;
    esac
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands ` + strings.Join(globals, " ") + `" -- "$cur"))
        return
    fi
    local kind=none flags=""
    case $cmd in
` + cases.String() + `    esac
    local choices=$flags
    case $kind in
        names|groups) choices+=" $("${words[0]}" __complete $kind "${words[@]:1}" 2>/dev/null)" ;;
        commands) choices+=" $commands" ;;
        shells) choices+=" ` + strings.Join(Shells, " ") + `" ;;
        file) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
    COMPREPLY+=($(compgen -W "$choices" -- "$cur"))
    # bash splits words at ":"; offer only what follows the last one.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local strip=${cur%"${cur##*:}"}
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$strip"}
        done
    fi
}
complete -F _tend tend
`
}

// zshQuote quotes s for zsh (and POSIX sh) inside single quotes.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func zshScript() string {
	var descs, cases, globals strings.Builder
	for _, c := range completable() {
		fmt.Fprintf(&descs, "        %s\n", zshQuote(c.name+":"+c.summary))
		fmt.Fprintf(&cases, "        %s) kind=%s flags=(%s) ;;\n", c.name, c.complete.word(), strings.Join(c.flags, " "))
	}
	for _, f := range globalFlags {
		for _, n := range []string{f.short, f.long} {
			if n != "" {
				fmt.Fprintf(&globals, "        %s\n", zshQuote(n+":"+f.desc))
			}
		}
	}
	vals, files := valueFlags()
	return `#compdef tend
# zsh completion for tend, written by ` + "`tend completion zsh`" + `.
# Load it with: source <(tend completion zsh)   (after compinit)
# or install it as _tend in a folder of $fpath.
_tend() {
    local -a commands globals choices flags
    commands=(
` + descs.String() + `    )
    globals=(
` + globals.String() + `    )
    local cmd="" kind=none i
    for ((i = 2; i < CURRENT; i++)); do
        case ${words[i]} in
            ` + strings.Join(vals, "|") + `) ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done
    case ${words[CURRENT-1]} in
        ` + strings.Join(files, "|") + `|--history) _files; return ;;
        ` + strings.Join(slices.DeleteFunc(slices.Clone(vals), func(v string) bool { return slices.Contains(files, v) }), "|") + `) return ;;
    esac
    if [[ -z $cmd ]]; then
        if [[ $PREFIX == -* ]]; then
            _describe -t options option globals
        else
            _describe -t commands command commands
        fi
        return
    fi
    case $cmd in
` + cases.String() + `    esac
    case $kind in
        names|groups) choices=(${(f)"$(${words[1]} __complete $kind ${words[2,CURRENT-1]} 2>/dev/null)"}) ;;
        commands) choices=(${commands%%:*}) ;;
        shells) choices=(` + strings.Join(Shells, " ") + `) ;;
        file) _files ;;
    esac
    (( ${#flags} )) && compadd -- $flags
    (( ${#choices} )) && compadd -- $choices
    return 0
}
if [[ $funcstack[1] == _tend ]]; then
    _tend "$@"
else
    compdef _tend tend
fi
`
}

// fishQuote quotes s for fish inside single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fishScript() string {
	vals, _ := valueFlags()
	var b strings.Builder
	b.WriteString(`# fish completion for tend, written by ` + "`tend completion fish`" + `.
# Load it with: tend completion fish | source
# or install it: tend completion fish > ~/.config/fish/completions/tend.fish

# __tend_command prints the command word of the line being completed.
function __tend_command
    set -l toks (commandline -opc)
    set -e toks[1]
    while set -q toks[1]
        switch $toks[1]
            case ` + strings.Join(vals, " ") + `
                set -e toks[1]
            case '-*'
            case '*'
                echo $toks[1]
                return 0
        end
        set -e toks[1]
    end
    return 1
end

function __tend_needs_command
    not __tend_command >/dev/null
end

function __tend_using
    contains -- (__tend_command) $argv
end

# __tend_ask asks the running daemon for names; silent when none runs.
function __tend_ask
    set -l toks (commandline -opc)
    $toks[1] __complete $argv[1] $toks[2..-1] 2>/dev/null
end

complete -c tend -f
`)
	for _, f := range globalFlags {
		line := "complete -c tend"
		if f.short != "" {
			line += " -s " + f.short[1:]
		}
		line += " -l " + f.long[2:]
		switch {
		case f.file:
			line += " -r -F"
		case f.value:
			line += " -x"
		}
		b.WriteString(line + " -d " + fishQuote(f.desc) + "\n")
	}
	for _, c := range completable() {
		fmt.Fprintf(&b, "complete -c tend -n __tend_needs_command -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range completable() {
		cond := fishQuote("__tend_using " + c.name)
		for _, f := range c.flags {
			fmt.Fprintf(&b, "complete -c tend -n %s -a %s\n", cond, fishQuote(f))
		}
		switch c.complete {
		case argNames, argGroups:
			fmt.Fprintf(&b, "complete -c tend -n %s -a %s\n", cond, fishQuote("(__tend_ask "+c.complete.word()+")"))
		case argCommands:
			var names []string
			for _, o := range completable() {
				names = append(names, o.name)
			}
			fmt.Fprintf(&b, "complete -c tend -n %s -a %s\n", cond, fishQuote(strings.Join(names, " ")))
		case argShells:
			fmt.Fprintf(&b, "complete -c tend -n %s -a %s\n", cond, fishQuote(strings.Join(Shells, " ")))
		case argFile:
			fmt.Fprintf(&b, "complete -c tend -n %s -F\n", cond)
		}
	}
	return b.String()
}
