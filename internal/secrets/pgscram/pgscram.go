// Package pgscram computes PostgreSQL SCRAM-SHA-256 password verifiers,
// so Rampart sets a role's password without the plaintext ever reaching
// the server: CREATE ROLE / ALTER ROLE ... PASSWORD store a verifier as
// given (PostgreSQL docs, CREATE ROLE, PASSWORD: "If the presented
// password string is already in MD5-encrypted or SCRAM-encrypted format,
// then it is stored as-is"), and log_statement=ddl, pg_stat_statements or
// an error report cannot capture a password they never see (PostgreSQL
// docs, ALTER ROLE, Notes). Both the rotators (pgrotate) and the dynamic
// credentials (pgdyn) use it.
package pgscram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Iterations is the PBKDF2 iteration count of the verifiers: PostgreSQL's
// default (scram_iterations, PostgreSQL docs, 20.3.3 Authentication; RFC
// 7677 §4 asks at least 4096).
const Iterations = 4096

// saltBytes: PostgreSQL's own verifiers have a 16-byte salt.
const saltBytes = 16

// Verifier returns PostgreSQL's SCRAM-SHA-256 verifier of pw with salt
// (RFC 5802 §3: StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key")), in the format
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. pw must be
// ASCII (Rampart's passwords are base64url), for which SASLprep (RFC
// 4013) is the identity.
func Verifier(pw, salt []byte) (string, error) {
	for _, c := range pw {
		if c < 0x21 || c > 0x7e {
			return "", errors.New("pgscram: the password is not printable ASCII")
		}
	}
	salted, err := pbkdf2.Key(sha256.New, string(pw), salt, Iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("pgscram: %w", err)
	}
	defer clear(salted)
	ck := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(ck)
	sk := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(Iterations) + ":" + b64(salt) + "$" + b64(stored[:]) + ":" + b64(sk), nil
}

// Literal returns the verifier of pw, with a fresh salt from r (nil:
// crypto/rand), as a single-quoted SQL literal, checked to be one
// (LiteralSafe): utility statements like CREATE ROLE take no bind
// parameters, so this is the one literal Rampart splices.
func Literal(r io.Reader, pw []byte) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, saltBytes)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", errors.New("pgscram: read randomness")
	}
	v, err := Verifier(pw, salt)
	if err != nil {
		return "", err
	}
	if !LiteralSafe(v) {
		return "", errors.New("pgscram: the verifier is not a safe literal")
	}
	return "'" + v + "'", nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// LiteralSafe reports whether s can be written between single quotes in
// SQL as is, whatever standard_conforming_strings says (PostgreSQL docs
// §4.1.2.1): letters, digits and + / = : $ - only (what a verifier is
// made of); no quote, backslash, space or NUL.
func LiteralSafe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == ':' || c == '$' || c == '-') {
			return false
		}
	}
	return true
}
