package runner_test

import (
	"os"
	"os/exec"
)

func cmdWithEnv(exe string, env ...string) *exec.Cmd {
	c := exec.Command(exe, "-test.run=^$")
	c.Env = append(os.Environ(), env...)
	return c
}
