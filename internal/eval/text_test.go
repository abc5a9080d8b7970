package eval

import "testing"

func TestRates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
		cer, wer  float64
	}{
		{"hello world", "hello world", 0, 0},
		{"hello  world\n", " hello world", 0, 0},
		{"hallo world", "hello world", 1.0 / 11, 0.5},
		{"", "abcd", 1, 1},
		{"abcd", "", 1, 1},
		{"hello", "hello world", 6.0 / 11, 0.5},
	} {
		if c := CER(tc.got, tc.want); c != tc.cer {
			t.Errorf("CER(%q, %q) = %v, want %v", tc.got, tc.want, c, tc.cer)
		}
		if w := WER(tc.got, tc.want); w != tc.wer {
			t.Errorf("WER(%q, %q) = %v, want %v", tc.got, tc.want, w, tc.wer)
		}
	}
}
