package mtls

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
)

// Certificate-bound access tokens (RFC 8705 §3): an authorization server
// that issues a token over mutual TLS puts the thumbprint of the client
// certificate in the token's cnf claim (cnf.x5t#S256); a resource server
// accepts the token only over mutual TLS with that certificate. These are
// the one definition of the thumbprint and of reading it from a token,
// shared by Rampart's token endpoint, its own resources and the gateway.

// x5tS256Len is the length of a base64url (no padding) SHA-256 digest.
const x5tS256Len = 43

// CertThumbprint is the RFC 8705 §3.1 certificate thumbprint of a DER
// certificate: base64url without padding of its SHA-256 digest, the value
// of a certificate-bound token's cnf.x5t#S256.
func CertThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CnfX5tS256 returns the cnf.x5t#S256 member of a verified token payload
// (RFC 8705 §3.1), and false when the token is not certificate-bound: no
// cnf, a cnf that is not an object, a member that is not a string, or a
// value that is not 43 base64url characters (a SHA-256 digest).
func CnfX5tS256(payload []byte) (string, bool) {
	var p struct {
		Cnf json.RawMessage `json:"cnf"`
	}
	if json.Unmarshal(payload, &p) != nil || len(p.Cnf) == 0 || p.Cnf[0] != '{' {
		return "", false
	}
	var cnf map[string]json.RawMessage
	if json.Unmarshal(p.Cnf, &cnf) != nil {
		return "", false
	}
	raw, ok := cnf["x5t#S256"]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var v string
	if json.Unmarshal(raw, &v) != nil || len(v) != x5tS256Len {
		return "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(v); err != nil {
		return "", false
	}
	return v, true
}

// TokenBoundToCert reports whether the verified token payload is bound to
// the client certificate der (RFC 8705 §3: the resource server compares
// cnf.x5t#S256 with the thumbprint of the certificate of the mutual-TLS
// connection). False for a token that is not certificate-bound and for no
// certificate. The comparison is in constant time, so the time it takes
// says nothing about how much of a forged thumbprint was right.
func TokenBoundToCert(payload, der []byte) bool {
	want, ok := CnfX5tS256(payload)
	if !ok || len(der) == 0 {
		return false
	}
	got := CertThumbprint(der)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
