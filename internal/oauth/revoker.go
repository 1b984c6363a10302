package oauth

import (
	"context"
	"errors"
	"time"
)

// DenyStore is the store's deny list of revoked access-token ids, which
// Rampart's own endpoints (userinfo, introspection) consult.
type DenyStore interface {
	DenyJTI(ctx context.Context, jti string, expiresAt time.Time) error
}

// Revoker puts revoked access tokens on every deny list: the store's and,
// when Redis is configured, the shared one resource servers read
// (jwtauth.NewRedisDenyList). It is the one revocation path of the server
// and the CLI (`rampart client delete`), so neither can skip a list the
// other writes. Whoever builds it with Shared nil asserts that no Redis is
// configured: an unresolvable redis.url_env is an error at start
// (config.Resolve), never a reason to leave Shared out.
type Revoker struct {
	Store  DenyStore
	Shared DenyPublisher // nil when Redis is not configured
}

// Revoke denies every token on every list until it expires. It tries every
// token on every list even when one write fails, and returns every
// failure: a partial revocation must be visible, not silent (RFC 7009 §2.2
// lets the server answer only once the token is invalid).
func (r Revoker) Revoke(ctx context.Context, tokens []IssuedAccess) error {
	if r.Store == nil {
		return errors.New("oauth: revoker without a store")
	}
	var errs []error
	for _, t := range tokens {
		if err := r.Store.DenyJTI(ctx, t.JTI, t.ExpiresAt); err != nil {
			errs = append(errs, err)
		}
		if r.Shared != nil {
			if err := r.Shared.Add(ctx, t.JTI, t.ExpiresAt); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
