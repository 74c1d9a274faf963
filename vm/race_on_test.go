//go:build race

package vm

// raceEnabled: the race detector keeps shadow memory for every heap page
// ever used, so VmRSS does not come back down under -race.
const raceEnabled = true
