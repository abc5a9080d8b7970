package cuda

import (
	"strings"
	"testing"

	"github.com/lector-ocr/lector/internal/errcode"
)

// A library that is not there is device_unavailable naming it, not a crash.
func TestOpenWithoutDriverIsDeviceUnavailable(t *testing.T) {
	_, err := open("libcuda-not-installed.so.1")
	if errcode.Of(err) != errcode.DeviceUnavailable {
		t.Fatalf("err = %v (%s), want device_unavailable", err, errcode.Of(err))
	}
	if got := errcode.Message(err); got == "" || !strings.Contains(got, "libcuda-not-installed.so.1") {
		t.Fatalf("message %q does not name the library", got)
	}
}
