package cli

import (
	"context"
	"fmt"
	"os"
)

// TestMainEnv, set to "1" in the environment of a test binary, makes
// MaybeRunAsMain run the command line instead of the tests: test binaries
// stand in for the lector binary, so runners started by tests are real
// processes going through the same entry point.
const TestMainEnv = "LECTOR_TEST_AS_MAIN"

// MaybeRunAsMain is called first in TestMain of packages whose tests start
// lector processes. Without TestMainEnv it returns at once; with it, it
// runs the arguments as lector would and exits.
func MaybeRunAsMain() {
	if os.Getenv(TestMainEnv) != "1" {
		return
	}
	if err := Run(context.Background(), os.Args[1:], NewEnv(os.Environ()), os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lector:", err)
		os.Exit(ExitCode(err))
	}
	os.Exit(0)
}
