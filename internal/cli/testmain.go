package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main is the lector binary: the command line under a context that SIGINT
// and SIGTERM cancel, and the exit status of its error.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], NewEnv(os.Environ()), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lector:", err)
		os.Exit(ExitCode(err))
	}
	os.Exit(0)
}

// TestMainEnv, set to "1" in the environment of a test binary, makes
// MaybeRunAsMain run the command line instead of the tests: test binaries
// stand in for the lector binary, so runners and servers started by tests
// are real processes going through the same entry point.
const TestMainEnv = "LECTOR_TEST_AS_MAIN"

// MaybeRunAsMain is called first in TestMain of packages whose tests start
// lector processes. Without TestMainEnv it returns at once; with it, it is
// Main.
func MaybeRunAsMain() {
	if os.Getenv(TestMainEnv) != "1" {
		return
	}
	Main()
}
