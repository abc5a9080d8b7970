//go:build !race

package cli

// raceDetector reports whether the tests run with the race detector, whose
// shadow memory makes every process's Go allocations cost several times
// more (memory-measuring tests run without it too: make test).
const raceDetector = false
