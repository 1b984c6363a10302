package oauth

import (
	"context"
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
)

// Grant types.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// grantHandler answers the token requests of one grant type (RFC 6749 §4).
// The token endpoint (handleToken) has read the form, authenticated the
// client and applied its rate limit before it calls grant; grant checks
// that the client may use the grant type, validates the request and
// returns the response or the error to send, and records the audit events
// of its outcome. The endpoint writes the answer and charges the client's
// budget only after a success.
//
// A new grant type (device authorization, token exchange) is a new file
// with its handler and one entry in newGrantHandlers, never a new branch
// of the endpoint.
type grantHandler interface {
	grant(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error)
}

var (
	_ grantHandler = (*codeGrant)(nil)
	_ grantHandler = (*clientCredentialsGrant)(nil)
	_ grantHandler = (*refreshGrant)(nil)
	_ grantHandler = (*deviceGrant)(nil)
)

// newGrantHandlers builds the token endpoint's handlers, keyed by
// grant_type, each given only the parts of the server it uses. New calls
// it once. The discovery document's grant_types_supported names the same
// types (grant_test.go checks the two agree).
func newGrantHandlers(s *Server) map[string]grantHandler {
	mint := &tokenIssuer{
		issuer: s.opts.Issuer, signer: s.opts.Signer, store: s.opts.Store, rand: s.rand,
		accessTTL: s.opts.AccessTokenTTL, refreshIdleTTL: s.opts.RefreshTokenIdleTTL, idTokenTTL: s.opts.IDTokenTTL,
	}
	return map[string]grantHandler{
		GrantAuthorizationCode: &codeGrant{
			codes: s.opts.Store, families: s.opts.Store, users: s.opts.Users, mint: mint, revoker: s.revoker,
			trail: s.trail, now: s.now, rand: s.rand, familyTTL: s.opts.RefreshTokenTTL,
		},
		GrantClientCredentials: &clientCredentialsGrant{mint: mint, trail: s.trail, now: s.now, defaultAudience: s.defaultAudience()},
		GrantRefreshToken: &refreshGrant{
			tokens: s.opts.Store, keeper: s.opts.Store, families: s.opts.Store, users: s.opts.Users, mint: mint, revoker: s.revoker,
			trail: s.trail, log: s.log, now: s.now, rand: s.rand, defaultAudience: s.defaultAudience(),
		},
		GrantDeviceCode: &deviceGrant{
			devices: s.opts.Store, families: s.opts.Store, users: s.opts.Users, mint: mint, revoker: s.revoker,
			trail: s.trail, now: s.now, rand: s.rand, familyTTL: s.opts.RefreshTokenTTL,
		},
	}
}

// userFinder looks users up by id (identity.Users): a grant made for a
// user issues nothing once the user is gone or disabled.
type userFinder interface {
	ByID(ctx context.Context, id string) (*identity.User, error)
}

var _ userFinder = (*identity.Users)(nil)

// familyRevoker revokes a grant's family (code replay, refresh token
// reuse, revocation of a refresh token).
type familyRevoker interface {
	// RevokeFamily marks the family and all its refresh tokens revoked
	// (idempotent) and returns its recorded access tokens that have not
	// expired at now.
	RevokeFamily(ctx context.Context, familyID string, now time.Time) ([]IssuedAccess, error)
}

// orDefault is a client's own lifetime v, or the server's def when the
// client sets none (zero).
func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
