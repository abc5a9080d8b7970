//go:build race

package ppocr

// raceDetector reports whether the tests run with the race detector, whose
// instrumentation makes Go's pixel loops (padding, turning, warping crops)
// several times slower: tests that read large pages several times run
// without it (make test runs them so).
const raceDetector = true
