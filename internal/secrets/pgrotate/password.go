package pgrotate

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// passwordBytes is the entropy of a generated password: 256 bits (OWASP
// Secrets Management Cheat Sheet: generated, high entropy; NIST SP
// 800-63B §5.1.1.2 sets no upper bound that matters here).
const passwordBytes = 32

// passwordLen is the length of a generated password: 32 bytes in
// unpadded base64url (RFC 4648 §5).
var passwordLen = base64.RawURLEncoding.EncodedLen(passwordBytes)

// scramIterations is the PBKDF2 iteration count of the SCRAM-SHA-256
// verifiers Rampart computes: PostgreSQL's default (scram_iterations,
// PostgreSQL docs, 20.3.3 Authentication; RFC 7677 §4 asks at least 4096).
const scramIterations = 4096

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

// scramVerifier returns PostgreSQL's SCRAM-SHA-256 verifier of pw with
// salt (RFC 5802 §3: StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key")), in the format
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> that ALTER
// ROLE ... PASSWORD stores as given (PostgreSQL docs, CREATE ROLE,
// PASSWORD: "If the presented password string is already in MD5-encrypted
// or SCRAM-encrypted format, then it is stored as-is"). The plaintext
// never reaches the server, so log_statement=ddl, pg_stat_statements or
// an error report cannot capture it (PostgreSQL docs, ALTER ROLE, Notes).
// pw is ASCII, for which SASLprep (RFC 4013) is the identity.
func scramVerifier(pw, salt []byte) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, string(pw), salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("pgrotate: scram: %w", err)
	}
	defer clear(salted)
	ck := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(ck)
	sk := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(scramIterations) + ":" + b64(salt) + "$" + b64(stored[:]) + ":" + b64(sk), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// literalSafe reports whether s can be written between single quotes in
// SQL as is: letters, digits and + / = : $ - only (what a verifier is
// made of). It guards the one literal Rampart splices (ALTER ROLE takes
// no parameters) even though only scramVerifier produces it.
func literalSafe(s string) bool {
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
