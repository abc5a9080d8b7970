// Package auth checks bearer tokens against a token file: one
// "subject:token" per line, where the token is either the secret itself or
// "sha256:" and the hex SHA-256 of it (recommended: the file then holds no
// secret). Blank lines and lines starting with # are ignored. Only hashes
// are kept in memory.
package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// Tokens maps token hashes to subjects.
type Tokens struct {
	bySum map[[sha256.Size]byte]string
}

// Load reads a token file.
func Load(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	return t, nil
}

// Parse reads token lines from r.
func Parse(r io.Reader) (*Tokens, error) {
	t := &Tokens{bySum: map[[sha256.Size]byte]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		subject, token, ok := strings.Cut(line, ":")
		subject, token = strings.TrimSpace(subject), strings.TrimSpace(token)
		if !ok || subject == "" || token == "" {
			return nil, fmt.Errorf("line %d: want subject:token or subject:sha256:HEX", n)
		}
		var sum [sha256.Size]byte
		if hexSum, ok := strings.CutPrefix(token, "sha256:"); ok {
			b, err := hex.DecodeString(hexSum)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("line %d: sha256: wants 64 hex digits", n)
			}
			copy(sum[:], b)
		} else {
			sum = sha256.Sum256([]byte(token))
		}
		if other, dup := t.bySum[sum]; dup && other != subject {
			return nil, fmt.Errorf("line %d: the same token is given to %s and %s", n, other, subject)
		}
		t.bySum[sum] = subject
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.bySum) == 0 {
		return nil, fmt.Errorf("no tokens")
	}
	return t, nil
}

// Subject returns the subject of token, if it is one of the file's.
func (t *Tokens) Subject(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	for s, subject := range t.bySum {
		if subtle.ConstantTimeCompare(s[:], sum[:]) == 1 {
			return subject, true
		}
	}
	return "", false
}

// NewToken returns a random token and the line that grants it to subject
// without storing the secret.
func NewToken(subject string) (token, line string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = "lec_" + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, subject + ":sha256:" + hex.EncodeToString(sum[:]), nil
}
