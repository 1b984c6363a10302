package gateway

import (
	"encoding/base64"
	"fmt"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/jwtauth"
)

// sign serializes payload as a compact JWS with typ rampart-assertion+jwt,
// signed with k by keys.SignJWS (the one signer of Rampart's own tokens),
// refusing a result over jwtauth.MaxAssertionSize: refused before signing
// when the payload alone is too large, and checked again on the whole
// token (header and signature included), never truncated.
func (m *AssertionMinter) sign(k keys.ActiveKey, payload []byte) (string, error) {
	if base64.RawURLEncoding.EncodedLen(len(payload)) > jwtauth.MaxAssertionSize {
		return "", ErrAssertionTooLarge
	}
	tok, err := keys.SignJWS(m.rand, k, jwtauth.AssertionType, payload)
	if err != nil {
		return "", fmt.Errorf("gateway: assertion: %w", err)
	}
	if len(tok) > jwtauth.MaxAssertionSize {
		return "", ErrAssertionTooLarge
	}
	return tok, nil
}
