package model_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	runAsMain()
	goleak.VerifyTestMain(m)
}
