package jwtauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// NonceSource is a stateless DPoP server-nonce issuer (RFC 9449 §8): the
// nonce is HMAC-SHA256(secret, time window), so every instance sharing the
// secret issues and accepts the same nonces without shared state. A nonce
// is accepted during its window and the next one, bounding how long a
// pre-computed proof stays usable.
type NonceSource struct {
	secret []byte
	window time.Duration
	now    func() time.Time
}

var _ NonceChecker = (*NonceSource)(nil)

// NewNonceSource returns a NonceSource. secret must be at least 32 bytes;
// window defaults to 5 minutes and must be at least 10 seconds.
func NewNonceSource(secret []byte, window time.Duration, clock func() time.Time) (*NonceSource, error) {
	if len(secret) < 32 {
		return nil, errors.New("jwtauth: the nonce secret must be at least 32 bytes")
	}
	if window == 0 {
		window = 5 * time.Minute
	}
	if window < 10*time.Second {
		return nil, errors.New("jwtauth: the nonce window must be at least 10s")
	}
	if clock == nil {
		clock = time.Now
	}
	return &NonceSource{secret: append([]byte(nil), secret...), window: window, now: clock}, nil
}

func (n *NonceSource) at(slot int64) string {
	m := hmac.New(sha256.New, n.secret)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot)) // #nosec G115 -- bit-for-bit encoding of the slot number.
	m.Write(b[:])
	return b64.EncodeToString(m.Sum(nil)[:16])
}

func (n *NonceSource) slot() int64 { return n.now().UnixNano() / int64(n.window) }

// Current returns the nonce to send in the DPoP-Nonce header.
func (n *NonceSource) Current() string { return n.at(n.slot()) }

// Valid reports whether nonce belongs to the current or the previous window.
func (n *NonceSource) Valid(nonce string) bool {
	s := n.slot()
	return hmac.Equal([]byte(nonce), []byte(n.at(s))) || hmac.Equal([]byte(nonce), []byte(n.at(s-1)))
}
