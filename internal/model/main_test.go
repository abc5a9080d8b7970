package model_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/lector-ocr/lector/internal/cli"
)

func TestMain(m *testing.M) {
	cli.MaybeRunAsMain()
	goleak.VerifyTestMain(m)
}
