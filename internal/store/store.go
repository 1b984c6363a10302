// Package store holds what every storage implementation shares: the
// sentinel errors callers test with errors.Is. The domain interfaces live
// with their consumers (oauth.Store, identity.Store, keys.Store,
// audit.Store); sqlstore implements them all.
package store

import "errors"

var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a row with the same unique key exists.
	ErrConflict = errors.New("store: already exists")
	// ErrUsed: a single-use item (authorization code, refresh token) was
	// already used. The method returns the item with it, so the caller can
	// act on the replay (revoke the family).
	ErrUsed = errors.New("store: already used")
	// ErrRevoked: the item, or the token family it belongs to, is revoked.
	ErrRevoked = errors.New("store: revoked")
)
