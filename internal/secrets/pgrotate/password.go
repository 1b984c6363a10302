package pgrotate

import (
	"encoding/base64"
	"errors"
	"io"
)

// passwordBytes is the entropy of a generated password: 256 bits (OWASP
// Secrets Management Cheat Sheet: generated, high entropy; NIST SP
// 800-63B §5.1.1.2 sets no upper bound that matters here).
const passwordBytes = 32

// passwordLen is the length of a generated password: 32 bytes in
// unpadded base64url (RFC 4648 §5).
var passwordLen = base64.RawURLEncoding.EncodedLen(passwordBytes)

// newPassword returns a fresh random password from r.
func newPassword(r io.Reader) ([]byte, error) {
	var b [passwordBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, errors.New("pgrotate: read randomness")
	}
	defer clear(b[:])
	pw := make([]byte, passwordLen)
	base64.RawURLEncoding.Encode(pw, b[:])
	return pw, nil
}

// generated reports whether pw has the generator's shape: exactly
// passwordLen characters of the base64url alphabet. Set refuses any other
// password, so only generated passwords reach the database (and none
// carries a quote, a backslash or a NUL).
func generated(pw []byte) bool {
	if len(pw) != passwordLen {
		return false
	}
	for _, c := range pw {
		if !urlSafe(c) {
			return false
		}
	}
	return true
}

func urlSafe(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
