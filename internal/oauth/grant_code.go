package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store"
)

// codeRedeemer spends authorization codes.
type codeRedeemer interface {
	// RedeemCode marks the code used and creates family f (f.CodeHash =
	// hash; f.ClientID and f.UserID are set from the code, overriding what
	// the caller passed) in one transaction, returning the code. When the code was
	// already used it returns the code with store.ErrUsed and changes
	// nothing (the caller revokes with RevokeCodeFamily). store.ErrNotFound
	// if no such code exists. Expiry is the caller's check.
	RedeemCode(ctx context.Context, hash []byte, f *Family, now time.Time) (*AuthCode, error)
	// RevokeCodeFamily revokes the family created from the code, as
	// RevokeFamily; no family is not an error (nil, nil).
	RevokeCodeFamily(ctx context.Context, codeHash []byte, now time.Time) ([]IssuedAccess, error)
}

// codeGrant is RFC 6749 §4.1.3 with PKCE (RFC 7636): a client exchanges
// the code of an authorization request for the user's tokens, starting a
// new family.
type codeGrant struct {
	codes     codeRedeemer
	families  familyRevoker
	users     userFinder
	mint      *tokenIssuer
	revoker   Revoker
	trail     auditTrail
	now       func() time.Time
	rand      io.Reader
	familyTTL time.Duration // the server's default absolute family lifetime
}

// errBadCode is the one answer for a code that is unknown, expired,
// already used or another client's.
const errBadCode = "the code is invalid, expired or already used"

func (g *codeGrant) grant(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	ctx := r.Context()
	if !c.Allows(GrantAuthorizationCode) {
		return nil, oerr(ErrUnauthorizedClient, "the client may not use this grant")
	}
	if req.Code == "" || len(req.Code) > 128 {
		return nil, oerr(ErrInvalidRequest, "code is required")
	}
	now := g.now().UTC()
	familyID, err := randomToken(g.rand, 16)
	if err != nil {
		return nil, serverError(err)
	}
	fam := &Family{ID: familyID, ClientID: c.ID, CreatedAt: now, ExpiresAt: now.Add(orDefault(c.RefreshTokenTTL, g.familyTTL))}
	code, e := g.redeem(r, c, hashToken(req.Code), fam, now)
	if e != nil {
		return nil, e
	}
	// The code is spent whatever happens next: every failed check below
	// costs the holder the code (one attempt per code).
	if reason, desc := checkCode(code, c, req, now); reason != "" {
		return g.spend(r, c, code, familyID, now, reason, desc)
	}
	if code.DPoPJKT != "" && proofKey(ctx) != code.DPoPJKT {
		// RFC 9449 §10: the authorization request named the DPoP key
		// (dpop_jkt); only a proof of that key redeems the code, so a
		// code stolen from the redirect is useless without the key.
		return g.spend(r, c, code, familyID, now, "dpop_jkt_mismatch", "the DPoP proof's key does not match dpop_jkt of the authorization request")
	}
	aud, e := narrowAudience(code.Audience, req.Resource)
	if e != nil {
		return g.spend(r, c, code, familyID, now, "invalid_target", e.Description)
	}
	if req.ScopeGiven {
		return g.spend(r, c, code, familyID, now, "scope_on_code", "scope is not allowed on the authorization_code grant")
	}
	user, err := g.users.ByID(ctx, code.UserID)
	if err != nil || user.Disabled {
		return g.spend(r, c, code, familyID, now, "user_unavailable", "the user is no longer active")
	}
	resp, e := g.mint.issue(ctx, userGrant{client: c, user: user, familyID: familyID, scopes: code.Scopes, aud: aud,
		authTime: code.AuthTime, amr: code.AMR, nonce: code.Nonce, now: now, familyExpiry: fam.ExpiresAt, refresh: true})
	if e != nil {
		return nil, e
	}
	if err := g.trail.must(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: bindingDetails(ctx, map[string]string{"grant_type": GrantAuthorizationCode, "scope": scopeString(code.Scopes), "family": familyID})}); err != nil {
		return nil, serverError(err)
	}
	return resp, nil
}

// redeem spends the code with hash codeHash, creating family fam. A
// second use of a code means someone holds a copy: everything issued from
// it is revoked (RFC 6749 §4.1.2, RFC 9700 §4.5).
func (g *codeGrant) redeem(r *http.Request, c *Client, codeHash []byte, fam *Family, now time.Time) (*AuthCode, *Error) {
	ctx := r.Context()
	code, err := g.codes.RedeemCode(ctx, codeHash, fam, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oerr(ErrInvalidGrant, errBadCode)
	case errors.Is(err, store.ErrUsed):
		tokens, rerr := g.codes.RevokeCodeFamily(ctx, codeHash, now)
		if rerr == nil {
			rerr = g.revoker.Revoke(ctx, tokens)
		}
		g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionCodeReplay, Target: "user:" + code.UserID, Outcome: audit.OutcomeFailure,
			Reason: "code_reused", Details: map[string]string{"code_client": code.ClientID, "revoked_access_tokens": itoa(len(tokens))}})
		if rerr != nil {
			return nil, serverError(rerr)
		}
		return nil, oerr(ErrInvalidGrant, errBadCode)
	case err != nil:
		return nil, serverError(err)
	}
	return code, nil
}

// checkCode checks a redeemed code against the request: the reason (for
// the audit trail) and description of the first failure, or "" when the
// code may be exchanged.
func checkCode(code *AuthCode, c *Client, req *TokenRequest, now time.Time) (reason, desc string) {
	switch {
	case !now.Before(code.ExpiresAt):
		return "code_expired", errBadCode
	case code.ClientID != c.ID:
		// RFC 6749 §4.1.3: the code must have been issued to this client.
		return "code_wrong_client", errBadCode
	case req.RedirectURI != code.RedirectURI:
		return "redirect_uri_mismatch", "redirect_uri does not match the authorization request"
	case req.CodeVerifier == "":
		return "pkce_missing", "code_verifier is required"
	case !validVerifier(req.CodeVerifier) || !s256(req.CodeVerifier, code.CodeChallenge):
		return "pkce_mismatch", "code_verifier does not match the code_challenge"
	}
	return "", ""
}

// spend answers a failed check of a redeemed code: the family just made
// from it is revoked, so the failed attempt cost the holder the code.
func (g *codeGrant) spend(r *http.Request, c *Client, code *AuthCode, familyID string, now time.Time, reason, desc string) (*tokenResponse, *Error) {
	ctx := r.Context()
	tokens, rerr := g.families.RevokeFamily(ctx, familyID, now)
	if rerr == nil {
		rerr = g.revoker.Revoke(ctx, tokens)
	}
	g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "client:" + code.ClientID, Outcome: audit.OutcomeFailure,
		Reason: reason, Details: map[string]string{"grant_type": GrantAuthorizationCode}})
	if rerr != nil {
		return nil, serverError(rerr)
	}
	return nil, oerr(ErrInvalidGrant, "%s", desc)
}

// s256 checks an RFC 7636 §4.6 S256 verifier against a challenge in
// constant time.
func s256(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
