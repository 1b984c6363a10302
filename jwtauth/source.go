package jwtauth

import (
	"context"
	"time"
)

// KeySource finds the verification keys of one issuer. Implementations:
// StaticKeys (configured keys) and JWKS (a fetched, cached key set).
type KeySource interface {
	// Key returns the key whose ID is kid. When kid is empty it returns the
	// source's only key, or ErrUnknownKey when it holds several. It returns
	// ErrUnknownKey (possibly wrapped) when there is no such key, and
	// another error when keys cannot be obtained at all.
	Key(ctx context.Context, kid string) (*Key, error)
}

// DenyList answers whether a token id (jti) was revoked. An error makes the
// verifier reject the token (fail closed).
type DenyList interface {
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// ReplayCache remembers DPoP proof ids. Seen atomically records jti until
// `until` and reports whether it was already recorded (a replay).
type ReplayCache interface {
	Seen(ctx context.Context, jti string, until time.Time) (bool, error)
}

// Observer receives events for metrics. Every method must be cheap and
// safe for concurrent use. Embed NopObserver to implement only some.
type Observer interface {
	// Verified is called for each accepted token; cached tells whether it
	// came from the verified-token cache.
	Verified(issuer string, cached bool)
	// Rejected is called for each rejected token or proof.
	Rejected(issuer string, reason Reason)
	// JWKSFetched is called after each JWKS fetch attempt (err nil on success).
	JWKSFetched(url string, err error)
	// JWKSStale is called when stale keys are served because refreshing failed.
	JWKSStale(url string)
}

// NopObserver ignores every event.
type NopObserver struct{}

func (NopObserver) Verified(string, bool)     {}
func (NopObserver) Rejected(string, Reason)   {}
func (NopObserver) JWKSFetched(string, error) {}
func (NopObserver) JWKSStale(string)          {}

var _ Observer = NopObserver{}
