package oauth

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/mtls"
)

// introspection is the RFC 7662 §2.2 response.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	NotBefore int64    `json:"nbf,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	// Cnf is a sender-constrained token's confirmation: the DPoP key's
	// thumbprint (RFC 9449 §6.2) and/or the client certificate's (RFC
	// 8705 §3.2).
	Cnf *confirmation `json:"cnf,omitempty"`
}

// handleIntrospect is RFC 7662 for authenticated confidential clients. A
// client sees a token only when the token's audience includes it (it is
// the resource server the token is for), or when it is configured as a
// resource server for all tokens; refresh tokens only by the client that
// holds them. Anything else is {"active": false}, which says nothing
// (§2.2, §4).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, e := readForm(r)
	if e != nil {
		writeError(w, e, false)
		return
	}
	c, basic := s.authClient(w, r, form, audit.ActionIntrospect)
	if c == nil {
		return
	}
	if c.Public {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionIntrospect, Target: "client:" + c.ID, Outcome: audit.OutcomeFailure, Reason: "public_client"})
		s.fail(w, r, badClient("client authentication failed"), basic)
		return
	}
	tok, e := single(form, "token")
	if e == nil && tok == "" {
		e = oerr(ErrInvalidRequest, "token is required")
	}
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	if looksLikeJWT(tok) {
		s.introspectAccess(w, r, c, tok)
		return
	}
	if len(tok) > 128 {
		writeJSON(w, http.StatusOK, introspection{})
		return
	}
	s.introspectRefresh(w, r, c, basic, tok)
}

// introspectAccess describes an access token (a JWT) to client c, when c
// is a resource server it is for.
func (s *Server) introspectAccess(w http.ResponseWriter, r *http.Request, c *Client, tok string) {
	inactive := introspection{}
	ctx := r.Context()
	// Inspect, not Verify: a DPoP-bound token is described too, with its
	// cnf (RFC 9449 §6.2), for the resource server to check the proof; so
	// is a certificate-bound one (RFC 8705 §3.2), for the resource server
	// to compare with the certificate of its own mutual-TLS connection.
	claims, err := s.verifier.Inspect(ctx, tok)
	if err != nil || !(c.ResourceServer || slices.Contains(claims.Audience, c.ID)) {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	// A token of a deleted client is no longer active.
	if _, err := s.opts.Clients.Get(ctx, claims.ClientID); err != nil {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	x5t, _ := mtls.CnfX5tS256(claims.Raw)
	writeJSON(w, http.StatusOK, introspection{
		Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject, Audience: claims.Audience,
		Issuer: claims.Issuer, Expiry: claims.ExpiresAt.Unix(), IssuedAt: unixOrZero(claims.IssuedAt), NotBefore: unixOrZero(claims.NotBefore),
		JTI: claims.ID, TokenType: tokenType(claims.JKT), Cnf: cnf(claims.JKT, x5t),
	})
}

// introspectRefresh describes a refresh token to the client that holds it.
func (s *Server) introspectRefresh(w http.ResponseWriter, r *http.Request, c *Client, basic bool, tok string) {
	inactive := introspection{}
	ctx := r.Context()
	rt, err := s.refreshes.GetRefresh(ctx, hashToken(tok))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, serverError(err), basic)
		return
	}
	now := s.now()
	if err != nil || rt.ClientID != c.ID || !rt.RevokedAt.IsZero() || !rt.UsedAt.IsZero() || !now.Before(rt.ExpiresAt) {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	writeJSON(w, http.StatusOK, introspection{
		Active: true, Scope: scopeString(rt.Scopes), ClientID: rt.ClientID, Subject: rt.UserID, Issuer: s.opts.Issuer,
		Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix(), TokenType: "refresh_token",
	})
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
