package keys

import (
	"crypto"
	"fmt"
	"io"
	"log/slog"

	jose "github.com/go-jose/go-jose/v4"
)

// ActiveKey is the key that signs tokens now. Its Signer holds the private
// key: the fmt and slog methods print only the kid and algorithm.
type ActiveKey struct {
	KID       string
	Algorithm string
	Signer    crypto.Signer
}

// SigningKey returns the key for go-jose, with the algorithm pinned and
// the kid set so verifiers select the key by kid.
func (k ActiveKey) SigningKey() jose.SigningKey {
	return jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.Algorithm),
		Key:       jose.JSONWebKey{Key: k.Signer, KeyID: k.KID, Algorithm: k.Algorithm, Use: "sig"},
	}
}

// String describes the key without its private part.
func (k ActiveKey) String() string {
	return fmt.Sprintf("keys.ActiveKey{KID: %q, Algorithm: %q}", k.KID, k.Algorithm)
}

// GoString describes the key without its private part (%#v).
func (k ActiveKey) GoString() string { return k.String() }

// Format prints String for every verb, so %+v or %x cannot dump the
// private key.
func (k ActiveKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue logs the kid and algorithm only.
func (k ActiveKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.KID), slog.String("alg", k.Algorithm))
}
