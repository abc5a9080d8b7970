package cli

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lector-ocr/lector/internal/memory/memtest"
)

// cliMainEnv makes the test binary behave as the lector binary, so tests can
// run it as a real process (inside a cgroup, as a runner's parent...).
const cliMainEnv = TestMainEnv

func TestMain(m *testing.M) {
	memtest.MaybeRunHolder()
	MaybeRunAsMain()
	// No test leaves a goroutine behind. Idle keep-alive connections of
	// the API clients' transports are the clients', not a leak of Lector's.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

// run calls Run as the binary would, with env as the whole environment.
func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Run(t.Context(), args, env, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}
