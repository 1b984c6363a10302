package oauth

import (
	"time"

	"github.com/rampart-auth/rampart/jwtauth"
)

// DPoPNonceWindow is the time slot of a DPoP server nonce (RFC 9449 §8):
// a nonce is issued for one slot and accepted in it and the next, so a
// proof made in advance is usable for at most two slots.
const DPoPNonceWindow = 5 * time.Minute

// NewDPoPNonces returns the token endpoint's server nonces (Options.
// DPoPNonces): HMAC-SHA-256 of the time slot under key (the kms data key
// kms.DataKeyDPoPNonce, the same on every instance), so a nonce one
// instance issued is valid on all without shared state, and the current
// and the previous slot's nonces are accepted (jwtauth.NonceSource).
// now nil means time.Now.
func NewDPoPNonces(key []byte, now func() time.Time) (jwtauth.NonceChecker, error) {
	return jwtauth.NewNonceSource(key, DPoPNonceWindow, now)
}
