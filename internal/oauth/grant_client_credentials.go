package oauth

import (
	"net/http"
	"slices"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// clientCredentialsGrant is RFC 6749 §4.4: a confidential client gets an
// access token for itself.
type clientCredentialsGrant struct {
	mint            *tokenIssuer
	trail           auditTrail
	now             func() time.Time
	defaultAudience string // see Server.defaultAudience
}

func (g *clientCredentialsGrant) grant(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	if c.Public || !c.Allows(GrantClientCredentials) {
		return nil, oerr(ErrUnauthorizedClient, "the client may not use this grant")
	}
	scopes := c.Scopes
	if req.ScopeGiven {
		for _, sc := range req.Scopes {
			if !slices.Contains(c.Scopes, sc) {
				return nil, oerr(ErrInvalidScope, "the client may not request scope %q", clip(sc))
			}
		}
		scopes = req.Scopes
	}
	aud, e := clientAudience(c, req.Resource, g.defaultAudience)
	if e != nil {
		return nil, e
	}
	key, err := g.mint.signer.Signer()
	if err != nil {
		return nil, serverError(err)
	}
	now := g.now().UTC()
	at, err := g.mint.signAccess(r.Context(), key, c, c.ID, aud, scopes, 0, nil, now)
	if err != nil {
		return nil, serverError(err)
	}
	if err := g.trail.must(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "client:" + c.ID, Outcome: audit.OutcomeSuccess,
		Details: bindingDetails(r.Context(), map[string]string{"grant_type": GrantClientCredentials, "scope": scopeString(scopes), "jti": at.jti})}); err != nil {
		return nil, serverError(err)
	}
	// No refresh token: the client can always authenticate again (OAuth
	// 2.1 §4.2.3, RFC 6749 §4.4.3).
	return &tokenResponse{AccessToken: at.jwt, TokenType: at.typ, ExpiresIn: int64(at.ttl / time.Second), Scope: scopeString(scopes)}, nil
}
