package repl

// takeValue returns the value of the option at args[*i]: the text after
// its "=" when it had one (hasVal, val), else the next argument, which *i
// then moves past. ok is false when the option is last and has none.
func takeValue(args []string, i *int, val string, hasVal bool) (string, bool) {
	if hasVal {
		return val, true
	}
	if *i+1 >= len(args) {
		return "", false
	}
	*i++
	return args[*i], true
}
