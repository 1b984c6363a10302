package rotation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Alphabets of the random rotator.
var alphabets = map[string]string{
	"alnum":     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"hex":       "0123456789abcdef",
	"base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	// Printable ASCII without the space (a value that can be trimmed
	// by a shell or a config loader is a bad password).
	"ascii-printable": "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
}

// Random length bounds (config secrets.rotations[].length).
const (
	MinRandomLength = 16
	MaxRandomLength = 4096
)

// Random is the random rotator: each new value is length characters of
// the alphabet from crypto/rand. The value lives only in the secrets
// store, so Set and Finish have nothing to do.
type Random struct {
	length   int
	alphabet string
}

var _ Rotator = (*Random)(nil)

// NewRandom returns a random rotator; alphabet is alnum, hex, base64url
// or ascii-printable.
func NewRandom(length int, alphabet string) (*Random, error) {
	a, ok := alphabets[alphabet]
	if !ok {
		return nil, fmt.Errorf("rotation: %q is not an alphabet (alnum, hex, base64url, ascii-printable)", alphabet)
	}
	if length < MinRandomLength || length > MaxRandomLength {
		return nil, fmt.Errorf("rotation: a random value is %d to %d characters", MinRandomLength, MaxRandomLength)
	}
	return &Random{length: length, alphabet: a}, nil
}

// NewValue draws a new value.
func (r *Random) NewValue(_ context.Context, _ secrets.Secret) (secrets.Value, error) {
	b, err := randomString(r.length, r.alphabet)
	if err != nil {
		return secrets.Value{}, err
	}
	return secrets.NewValue(b), nil
}

// Set does nothing: the value has no target.
func (r *Random) Set(context.Context, secrets.Secret, secrets.Secret, bool) error { return nil }

// Test checks the pending value's length and alphabet.
func (r *Random) Test(_ context.Context, pending secrets.Secret) error {
	b := pending.Value.Bytes()
	if len(b) != r.length {
		return errors.New("rotation: random: the value has the wrong length")
	}
	for _, c := range b {
		if !strings.ContainsRune(r.alphabet, rune(c)) {
			return errors.New("rotation: random: the value has a character outside its alphabet")
		}
	}
	return nil
}

// Finish does nothing.
func (r *Random) Finish(context.Context, secrets.Secret, secrets.Secret, bool) error { return nil }

// randomString returns n characters of alphabet (at most 256 of them)
// drawn uniformly from crypto/rand by rejection sampling: a byte at or
// above the largest multiple of len(alphabet) is drawn again, so no
// character is likelier than another (no modulo bias; NIST SP 800-90A
// Rev. 1 appendix A.5.1 "simple discard method").
func randomString(n int, alphabet string) ([]byte, error) {
	k := len(alphabet)
	limit := 256 - 256%k // bytes below limit map uniformly onto k characters
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2+16)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return nil, fmt.Errorf("rotation: random: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%k])
				if len(out) == n {
					break
				}
			}
		}
	}
	return out, nil
}
