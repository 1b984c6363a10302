package oauth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store"
)

// refreshRotator reads and rotates refresh tokens.
type refreshRotator interface {
	refreshReader
	// RotateRefresh atomically marks the token with oldHash used and stores
	// next in the same family (next.FamilyID is set from it), returning the
	// old token. If the old token was already used, or it or its family is
	// revoked, it returns the old token with store.ErrUsed or
	// store.ErrRevoked and changes nothing. store.ErrNotFound if unknown.
	// Expiry is the caller's check.
	RotateRefresh(ctx context.Context, oldHash []byte, next *RefreshToken, now time.Time) (*RefreshToken, error)
}

// refreshGrant is RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1): a refresh
// token is spent for new tokens and a new refresh token of its family; a
// spent one presented again revokes the family. A client that does not
// rotate (Client.rotatesRefresh: the fapi2 profile) keeps its refresh
// token instead (keep).
type refreshGrant struct {
	tokens          refreshRotator
	keeper          refreshKeeper
	families        familyRevoker
	users           userFinder
	mint            *tokenIssuer
	revoker         Revoker
	trail           auditTrail
	log             *slog.Logger
	now             func() time.Time
	rand            io.Reader
	defaultAudience string // see Server.defaultAudience
}

// errBadRefresh is the one answer for a refresh token that is unknown,
// expired, spent or revoked.
func errBadRefresh() *Error {
	return oerr(ErrInvalidGrant, "the refresh token is invalid, expired or revoked")
}

func (g *refreshGrant) grant(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	ctx := r.Context()
	if !c.Allows(GrantRefreshToken) {
		return nil, oerr(ErrUnauthorizedClient, "the client may not use this grant")
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 128 {
		return nil, oerr(ErrInvalidRequest, "refresh_token is required")
	}
	now := g.now().UTC()
	hash := hashToken(req.RefreshToken)
	old, e := g.lookup(r, c, hash, now)
	if e != nil {
		return nil, e
	}
	scopes := old.Scopes
	if req.ScopeGiven {
		// RFC 6749 §6: a refresh may narrow the scope, never widen it.
		for _, sc := range req.Scopes {
			if !slices.Contains(old.Scopes, sc) {
				return nil, oerr(ErrInvalidScope, "scope %q was not granted", clip(sc))
			}
		}
		scopes = req.Scopes
	}
	if slices.Equal(old.Audience, []string{c.ID}) && !slices.Contains(c.Audience, c.ID) {
		// A grant made before access tokens had their own default
		// audience (defaultAudience) named the client: keep no token of
		// it passing as an ID token. (A client that lists its own id as
		// an audience keeps what it configured.)
		old.Audience = []string{g.defaultAudience}
	}
	aud, e := narrowAudience(old.Audience, req.Resource)
	if e != nil {
		return nil, e
	}
	user, err := g.users.ByID(ctx, old.UserID)
	if err != nil || user.Disabled {
		return nil, errBadRefresh()
	}
	familyExpiry := old.FamilyExpiresAt
	if familyExpiry.IsZero() {
		familyExpiry = old.ExpiresAt
	}
	rt, rotated := "", c.rotatesRefresh()
	if rotated {
		rt, e = g.rotate(r, c, old, hash, now, familyExpiry)
	} else {
		e = g.keep(r, c, old, hash, now, familyExpiry)
	}
	if e != nil {
		return nil, e
	}
	// The access token; the refresh token was rotated or kept above (a
	// kept one is not sent again: RFC 6749 §5.1, the response's
	// refresh_token is optional and the client keeps the one it has).
	resp, e := g.mint.issue(ctx, userGrant{client: c, user: user, familyID: old.FamilyID, scopes: scopes, aud: aud,
		authTime: old.AuthTime, amr: old.AMR, now: now, familyExpiry: familyExpiry})
	if e != nil {
		return nil, e
	}
	resp.RefreshToken = rt
	if err := g.trail.must(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefresh, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: bindingDetails(ctx, map[string]string{"scope": scopeString(scopes), "family": old.FamilyID, "rotated": strconv.FormatBool(rotated)})}); err != nil {
		return nil, serverError(err)
	}
	return resp, nil
}

// lookup finds the refresh token with hash and checks that client c may
// spend it now.
func (g *refreshGrant) lookup(r *http.Request, c *Client, hash []byte, now time.Time) (*RefreshToken, *Error) {
	old, err := g.tokens.GetRefresh(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadRefresh()
	}
	if err != nil {
		return nil, serverError(err)
	}
	if old.ClientID != c.ID {
		// Another client holds this client's refresh token: it leaked.
		return nil, g.revokeStolen(r, c, old, now, "refresh_wrong_client")
	}
	if !old.RevokedAt.IsZero() {
		g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefresh, Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure, Reason: "revoked"})
		return nil, errBadRefresh()
	}
	if !old.UsedAt.IsZero() {
		return nil, g.revokeStolen(r, c, old, now, "refresh_reused")
	}
	if !now.Before(old.ExpiresAt) {
		g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefresh, Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure, Reason: "expired"})
		return nil, errBadRefresh()
	}
	if old.JKT != "" && proofKey(r.Context()) != old.JKT {
		// RFC 9449 §5: a public client's refresh token is bound to its
		// DPoP key; without a proof of that key it is useless. The token
		// stays unspent: the checks above ran on the stored row only, and
		// the holder of the key may still use it.
		g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefresh, Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure,
			Reason: "dpop_key_mismatch", Details: map[string]string{"family": old.FamilyID}})
		return nil, oerr(ErrInvalidGrant, "the refresh token is bound to a DPoP key: a proof of that key is required")
	}
	if old.X5T != "" && !sameThumb(certThumb(r.Context()), old.X5T) {
		// RFC 8705 §4: a public client's refresh token issued over mutual
		// TLS is bound to that certificate; without it (another one, or
		// the main listener, which requests none) it is useless. It stays
		// unspent, as for a missing DPoP proof above.
		g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefresh, Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure,
			Reason: "certificate_mismatch", Details: map[string]string{"family": old.FamilyID}})
		return nil, oerr(ErrInvalidGrant, "the refresh token is bound to a client certificate: send the request to the mtls_endpoint_aliases token_endpoint with that certificate")
	}
	return old, nil
}

// rotate spends old (stored under hash) for a new refresh token of its
// family, which it returns. The new token keeps the original grant (scope
// and audience): narrowing applies to this access token only (RFC 6749 §6).
func (g *refreshGrant) rotate(r *http.Request, c *Client, old *RefreshToken, hash []byte, now, familyExpiry time.Time) (string, *Error) {
	rt, err := randomToken(g.rand, 32)
	if err != nil {
		return "", serverError(err)
	}
	next := &RefreshToken{
		Hash: hashToken(rt), ClientID: c.ID, UserID: old.UserID, Scopes: old.Scopes, Audience: old.Audience, AuthTime: old.AuthTime, AMR: old.AMR,
		CreatedAt: now, ExpiresAt: minTime(now.Add(g.mint.refreshIdleTTLFor(c)), familyExpiry), JKT: old.JKT, X5T: old.X5T,
	}
	if next.JKT == "" {
		// A public client's unbound token spent with a proof: the new one
		// is bound from now on (RFC 9449 §5).
		next.JKT = refreshBinding(c, proofKey(r.Context()))
	}
	if next.X5T == "" {
		// The same for a certificate (RFC 8705 §4).
		next.X5T = refreshBinding(c, certThumb(r.Context()))
	}
	if _, err := g.tokens.RotateRefresh(r.Context(), hash, next, now); err != nil {
		switch {
		case errors.Is(err, store.ErrUsed):
			// Lost a race with another use of the same token: a replay.
			return "", g.revokeStolen(r, c, old, now, "refresh_reused")
		case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
			return "", errBadRefresh()
		}
		return "", serverError(err)
	}
	return rt, nil
}

// keep answers a refresh without rotation (FAPI 2.0 SP §5.3.2.1: "shall
// not use refresh token rotation unless [...] retrying the request (with
// the previous refresh token) will succeed"): the token stays unspent and
// valid, its idle expiry extended as a rotation would set it, never past
// its family's absolute expiry. The update is conditional, so a token
// revoked meanwhile (on any instance) is refused, not revived.
func (g *refreshGrant) keep(r *http.Request, c *Client, old *RefreshToken, hash []byte, now, familyExpiry time.Time) *Error {
	err := g.keeper.KeepRefresh(r.Context(), hash, minTime(now.Add(g.mint.refreshIdleTTLFor(c)), familyExpiry), now)
	if errors.Is(err, store.ErrNotFound) {
		g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefresh, Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure,
			Reason: "revoked", Details: map[string]string{"family": old.FamilyID}})
		return errBadRefresh()
	}
	if err != nil {
		return serverError(err)
	}
	return nil
}

// revokeStolen handles a refresh token presented after it was rotated, or
// by another client: one of the holders is not legitimate and the server
// cannot tell which, so the whole family is revoked (RFC 9700 §4.14.2,
// OAuth 2.1 §4.3.1) and the event audited as a likely theft.
func (g *refreshGrant) revokeStolen(r *http.Request, c *Client, old *RefreshToken, now time.Time, reason string) *Error {
	tokens, err := g.families.RevokeFamily(r.Context(), old.FamilyID, now)
	if err == nil {
		err = g.revoker.Revoke(r.Context(), tokens)
	}
	g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRefreshReuse, Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure,
		Reason: reason, Details: map[string]string{"family": old.FamilyID, "token_client": old.ClientID, "revoked_access_tokens": itoa(len(tokens))}})
	g.log.WarnContext(r.Context(), "refresh token reuse: family revoked (likely token theft)", "client", c.ID, "family", old.FamilyID, "reason", reason)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return serverError(err)
	}
	return errBadRefresh()
}
