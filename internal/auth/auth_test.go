package auth

import (
	"strings"
	"testing"
)

func TestPlainAndHashedTokens(t *testing.T) {
	t.Parallel()
	tok, line, err := NewToken("bob")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, tok) {
		t.Fatal("the file line holds the secret")
	}
	ts, err := Parse(strings.NewReader("# users\nalice: s3cret\n\n" + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{"s3cret": "alice", tok: "bob"} {
		if got, ok := ts.Subject(token); !ok || got != want {
			t.Errorf("%q: %q %v, want %s", token, got, ok, want)
		}
	}
	for _, bad := range []string{"", "s3cre", "S3CRET", tok + "x"} {
		if s, ok := ts.Subject(bad); ok {
			t.Errorf("%q accepted as %s", bad, s)
		}
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"", "# only a comment\n", "alice\n", ":tok\n", "a:sha256:xyz\n", "a:same\nb:same\n"} {
		if _, err := Parse(strings.NewReader(f)); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
}
