package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/store"
)

// refreshReader finds refresh tokens.
type refreshReader interface {
	// GetRefresh returns a refresh token with RevokedAt set if its family
	// is revoked; store.ErrNotFound if there is none.
	GetRefresh(ctx context.Context, hash []byte) (*RefreshToken, error)
}

// looksLikeJWT: our access tokens are JWS compact (three parts); refresh
// tokens are opaque base64url without dots.
func looksLikeJWT(t string) bool { return strings.Count(t, ".") == 2 }

// handleRevoke is RFC 7009. The answer is 200 whether or not the token was
// known, valid or this client's (§2.2): a client learns nothing about
// other clients' tokens. A token of another client is left alone and the
// attempt audited.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	httpx.SetNoStore(w)
	form, e := readForm(r)
	if e != nil {
		writeError(w, e, false)
		return
	}
	c, basic := s.authClient(w, r, form, audit.ActionRevoke)
	if c == nil {
		return
	}
	tok, e := single(form, "token")
	if e == nil && tok == "" {
		e = oerr(ErrInvalidRequest, "token is required")
	}
	if e == nil {
		_, e = single(form, "token_type_hint")
	}
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	if looksLikeJWT(tok) {
		s.revokeAccess(w, r, c, basic, tok)
		return
	}
	if len(tok) > 128 {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.revokeRefresh(w, r, c, basic, tok)
}

// revokeAccess revokes an access token of client c (a JWT): its jti goes
// on every deny list until it expires.
func (s *Server) revokeAccess(w http.ResponseWriter, r *http.Request, c *Client, basic bool, tok string) {
	ctx := r.Context()
	// Inspect, not Verify: a DPoP-bound token is revoked like any other
	// (it is the object of the request here, not a credential).
	claims, err := s.verifier.Inspect(ctx, tok)
	if err != nil {
		// Invalid or expired: nothing to revoke (§2.2).
		w.WriteHeader(http.StatusOK)
		return
	}
	if claims.ClientID != c.ID {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRevoke, Target: "client:" + claims.ClientID, Outcome: audit.OutcomeDenied, Reason: "not_token_owner"})
		w.WriteHeader(http.StatusOK)
		return
	}
	exp := claims.ExpiresAt
	if err := s.denyAccess(ctx, []IssuedAccess{{JTI: claims.ID, ExpiresAt: exp}}); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRevoke, Target: "subject:" + claims.Subject, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"token_type": "access_token", "jti": claims.ID}}); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	httpx.SetNoStore(w)
	w.WriteHeader(http.StatusOK)
}

// revokeRefresh revokes a refresh token of client c with its family.
func (s *Server) revokeRefresh(w http.ResponseWriter, r *http.Request, c *Client, basic bool, tok string) {
	ctx := r.Context()
	now := s.now().UTC()
	rt, err := s.refreshes.GetRefresh(ctx, hashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	if rt.ClientID != c.ID {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRevoke, Target: "client:" + rt.ClientID, Outcome: audit.OutcomeDenied, Reason: "not_token_owner"})
		w.WriteHeader(http.StatusOK)
		return
	}
	// A refresh token revokes its whole family, access tokens included
	// (RFC 7009 §2.1 allows it; it is what a user signing out expects).
	tokens, err := s.families.RevokeFamily(ctx, rt.FamilyID, now)
	if err == nil {
		err = s.denyAccess(ctx, tokens)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, serverError(err), basic)
		return
	}
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionRevoke, Target: "user:" + rt.UserID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"token_type": "refresh_token", "family": rt.FamilyID}}); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	httpx.SetNoStore(w)
	w.WriteHeader(http.StatusOK)
}
