package oauth

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/store"
)

// tokenResponse is RFC 6749 §5.1 plus OIDC Core §3.1.3.3 id_token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// grantRecorder records what is issued in a grant's family, so that
// revoking the family reaches it.
type grantRecorder interface {
	// SaveRefresh stores a new refresh token in its family; it fails with
	// store.ErrRevoked if the family is revoked (checked under a lock on
	// the family row, so a concurrent revocation cannot miss it).
	SaveRefresh(ctx context.Context, t *RefreshToken) error
	// RecordAccess records an access token issued in a family, with the
	// same revoked check as SaveRefresh.
	RecordAccess(ctx context.Context, familyID string, a IssuedAccess) error
}

// tokenIssuer mints the tokens every grant issues: access tokens signed
// with the active key, ID tokens, and refresh tokens recorded in their
// family. The grants share one.
type tokenIssuer struct {
	issuer string
	signer Signer
	store  grantRecorder
	rand   io.Reader
	// The server's default lifetimes (a client's own override them).
	accessTTL, refreshIdleTTL, idTokenTTL time.Duration
}

// accessToken is a signed access token and what a response or a family
// record needs of it.
type accessToken struct {
	jwt string
	jti string
	exp time.Time
	ttl time.Duration
	typ string // the response's token_type: Bearer, or DPoP when bound
}

// signAccess signs an RFC 9068 access token of client c for subject with
// key. authTime is the Unix time of the user's sign-in, 0 for none, amr
// its methods. A token request with a DPoP proof (proofKey of ctx) gets a
// token bound to the proof's key: cnf.jkt (RFC 9449 §6.1); one on the
// mTLS alias with a verified client certificate (certThumb of ctx) a token
// bound to the certificate: cnf.x5t#S256 (RFC 8705 §3.1). The token_type
// stays Bearer for a certificate-bound token (RFC 8705 §3 leaves it), DPoP
// when it is DPoP-bound.
func (t *tokenIssuer) signAccess(ctx context.Context, key keys.ActiveKey, c *Client, subject string, aud, scopes []string, authTime int64, amr []string, now time.Time) (accessToken, error) {
	ttl := orDefault(c.AccessTokenTTL, t.accessTTL)
	jti, err := randomToken(t.rand, 16)
	if err != nil {
		return accessToken{}, err
	}
	exp := now.Add(ttl)
	at, err := sign(key, "at+jwt", accessClaims{
		Issuer: t.issuer, Subject: subject, Audience: aud, Expiry: exp.Unix(), IssuedAt: now.Unix(), NotBef: now.Unix(),
		ID: jti, ClientID: c.ID, Scope: scopeString(scopes), AuthTime: authTime, AMR: amr, ACR: acrOf(amr), Cnf: cnf(proofKey(ctx), certThumb(ctx)),
	})
	if err != nil {
		return accessToken{}, err
	}
	return accessToken{jwt: at, jti: jti, exp: exp, ttl: ttl, typ: tokenType(proofKey(ctx))}, nil
}

// userGrant is what a grant made for a user (authorization code, refresh)
// issues tokens from.
type userGrant struct {
	client       *Client
	user         *identity.User
	familyID     string
	scopes, aud  []string
	authTime     time.Time
	amr          []string // the sign-in's methods (RFC 8176); nil for none
	nonce        string
	now          time.Time
	familyExpiry time.Time
	// refresh asks for a new refresh token when the client may refresh
	// (the refresh grant rotates its own).
	refresh bool
}

// issue mints the access token (recorded in the family), an ID token when
// openid was granted, and a refresh token when g.refresh and the client
// may refresh.
func (t *tokenIssuer) issue(ctx context.Context, g userGrant) (*tokenResponse, *Error) {
	key, err := t.signer.Signer()
	if err != nil {
		return nil, serverError(err)
	}
	c := g.client
	at, err := t.signAccess(ctx, key, c, g.user.ID, g.aud, g.scopes, g.authTime.Unix(), g.amr, g.now)
	if err != nil {
		return nil, serverError(err)
	}
	if err := t.store.RecordAccess(ctx, g.familyID, IssuedAccess{JTI: at.jti, ExpiresAt: at.exp}); err != nil {
		return nil, recordError(err)
	}
	resp := &tokenResponse{AccessToken: at.jwt, TokenType: at.typ, ExpiresIn: int64(at.ttl / time.Second), Scope: scopeString(g.scopes)}
	if slices.Contains(g.scopes, "openid") {
		if resp.IDToken, err = t.idToken(key, g, at.jwt); err != nil {
			return nil, serverError(err)
		}
	}
	if g.refresh && c.Allows(GrantRefreshToken) {
		rt, e := t.refreshToken(ctx, g, refreshBinding(c, proofKey(ctx)), refreshBinding(c, certThumb(ctx)))
		if e != nil {
			return nil, e
		}
		resp.RefreshToken = rt
	}
	return resp, nil
}

// idToken signs the OIDC ID token that goes with access token at.
func (t *tokenIssuer) idToken(key keys.ActiveKey, g userGrant, at string) (string, error) {
	claims := idClaims{
		Issuer: t.issuer, Subject: g.user.ID, Audience: g.client.ID, AZP: g.client.ID, Expiry: g.now.Add(t.idTokenTTL).Unix(),
		IssuedAt: g.now.Unix(), AuthTime: g.authTime.Unix(), Nonce: g.nonce, AtHash: tokenHashHalf(key.Algorithm, at),
		AMR: g.amr, ACR: acrOf(g.amr),
	}
	if slices.Contains(g.scopes, "profile") {
		claims.Username = g.user.Username
	}
	return sign(key, "JWT", claims)
}

// refreshBinding is the DPoP key (jkt) or client certificate (x5t) a new
// refresh token of c is bound to, when the token request came with a proof
// of that key or over mutual TLS with that certificate: a public client's
// refresh tokens are bound to it, since the client has no credential of
// its own that a thief would lack (RFC 9449 §5, RFC 8705 §4); a
// confidential client's are not (they are bound to the client's
// authentication already, RFC 9449 §5, RFC 8705 §4).
func refreshBinding(c *Client, thumb string) string {
	if c.Public {
		return thumb
	}
	return ""
}

// refreshToken mints and stores a new refresh token in g's family, bound
// to the DPoP key jkt and the client certificate x5t ("" for none).
func (t *tokenIssuer) refreshToken(ctx context.Context, g userGrant, jkt, x5t string) (string, *Error) {
	rt, err := randomToken(t.rand, 32)
	if err != nil {
		return "", serverError(err)
	}
	stored := &RefreshToken{
		Hash: hashToken(rt), FamilyID: g.familyID, ClientID: g.client.ID, UserID: g.user.ID, Scopes: g.scopes, Audience: g.aud,
		AuthTime: g.authTime, AMR: g.amr, CreatedAt: g.now, ExpiresAt: minTime(g.now.Add(t.refreshIdleTTLFor(g.client)), g.familyExpiry), JKT: jkt, X5T: x5t,
	}
	if err := t.store.SaveRefresh(ctx, stored); err != nil {
		return "", recordError(err)
	}
	return rt, nil
}

// refreshIdleTTLFor is how long a refresh token of c lives unused.
func (t *tokenIssuer) refreshIdleTTLFor(c *Client) time.Duration {
	return orDefault(c.RefreshTokenIdleTTL, t.refreshIdleTTL)
}

// recordError is the answer to a failure to record a token in its family:
// a family revoked meanwhile is the client's invalid_grant.
func recordError(err error) *Error {
	if errors.Is(err, store.ErrRevoked) {
		return oerr(ErrInvalidGrant, "the grant was revoked")
	}
	return serverError(err)
}

// narrowAudience applies a token request's resource to a granted audience.
func narrowAudience(granted []string, resource string) ([]string, *Error) {
	if resource == "" {
		return granted, nil
	}
	if !slices.Contains(granted, resource) {
		return nil, oerr(ErrInvalidTarget, "the resource was not granted")
	}
	return []string{resource}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
