package vm

import (
	"fmt"

	"github.com/tend-sh/tend/supervisor"
)

// parseEnvString parses supervisord's environment= syntax (see
// supervisor.ParseEnvironment) into a map: the last value of a repeated
// key wins.
func parseEnvString(s string) (map[string]string, error) {
	pairs, err := supervisor.ParseEnvironment(s)
	if err != nil {
		return nil, fmt.Errorf("%v in %q", err, s)
	}
	env := make(map[string]string, len(pairs))
	for _, p := range pairs {
		env[p.Key] = p.Value
	}
	return env, nil
}
