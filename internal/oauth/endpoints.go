package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/jwtauth"
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
	c, basic := s.authClient(w, r, form, "oauth.revoke")
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
	now := s.now().UTC()
	ctx := r.Context()
	if looksLikeJWT(tok) {
		claims, err := s.verifier.Verify(ctx, tok)
		if err != nil {
			// Invalid or expired: nothing to revoke (§2.2).
			w.WriteHeader(http.StatusOK)
			return
		}
		if claims.ClientID != c.ID {
			s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.revoke", Target: "client:" + claims.ClientID, Outcome: audit.OutcomeDenied, Reason: "not_token_owner"})
			w.WriteHeader(http.StatusOK)
			return
		}
		exp := claims.ExpiresAt
		if err := s.denyAccess(ctx, []IssuedAccess{{JTI: claims.ID, ExpiresAt: exp}}); err != nil {
			s.fail(w, r, serverError(err), basic)
			return
		}
		if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.revoke", Target: "subject:" + claims.Subject, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"token_type": "access_token", "jti": claims.ID}}); err != nil {
			s.fail(w, r, serverError(err), basic)
			return
		}
		httpx.SetNoStore(w)
		w.WriteHeader(http.StatusOK)
		return
	}
	if len(tok) > 128 {
		w.WriteHeader(http.StatusOK)
		return
	}
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
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.revoke", Target: "client:" + rt.ClientID, Outcome: audit.OutcomeDenied, Reason: "not_token_owner"})
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
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.revoke", Target: "user:" + rt.UserID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"token_type": "refresh_token", "family": rt.FamilyID}}); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	httpx.SetNoStore(w)
	w.WriteHeader(http.StatusOK)
}

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
	c, basic := s.authClient(w, r, form, "oauth.introspect")
	if c == nil {
		return
	}
	if c.Public {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.introspect", Target: "client:" + c.ID, Outcome: audit.OutcomeFailure, Reason: "public_client"})
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
	inactive := introspection{}
	ctx := r.Context()
	if looksLikeJWT(tok) {
		claims, err := s.verifier.Verify(ctx, tok)
		if err != nil || !(c.ResourceServer || slices.Contains(claims.Audience, c.ID)) {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		// A token of a deleted client is no longer active.
		if _, err := s.opts.Clients.Get(ctx, claims.ClientID); err != nil {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		writeJSON(w, http.StatusOK, introspection{
			Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject, Audience: claims.Audience,
			Issuer: claims.Issuer, Expiry: claims.ExpiresAt.Unix(), IssuedAt: unixOrZero(claims.IssuedAt), NotBefore: unixOrZero(claims.NotBefore),
			JTI: claims.ID, TokenType: "Bearer",
		})
		return
	}
	if len(tok) > 128 {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
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

// handleUserinfo is OIDC Core §5.3: the access token in the Authorization
// header (RFC 6750 §2.1), with the openid scope, for a user.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	bearer := func(status int, code, desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart", error="`+code+`", error_description="`+desc+`"`)
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": ErrInvalidToken, "error_description": "a bearer access token is required"})
		return
	}
	claims, err := s.verifier.Verify(r.Context(), tok)
	if err != nil {
		if jwtauth.ReasonOf(err) == jwtauth.ReasonKeySourceError {
			s.log.ErrorContext(r.Context(), "userinfo", "err", err)
		}
		bearer(http.StatusUnauthorized, ErrInvalidToken, "the access token is invalid")
		return
	}
	if !claims.HasScope("openid") {
		bearer(http.StatusForbidden, ErrInsufficientScope, "the openid scope is required")
		return
	}
	user, err := s.opts.Users.ByID(r.Context(), claims.Subject)
	if err != nil || user.Disabled {
		bearer(http.StatusUnauthorized, ErrInvalidToken, "the access token is invalid")
		return
	}
	out := map[string]any{"sub": user.ID}
	if claims.HasScope("profile") {
		out["preferred_username"] = user.Username
	}
	writeJSON(w, http.StatusOK, out)
}

// discoveryHandler serves RFC 8414 / OIDC Discovery metadata listing
// exactly what is supported.
func (s *Server) discoveryHandler() http.Handler {
	var (
		once sync.Once
		body []byte
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { body = s.metadata() })
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

func (s *Server) metadata() []byte {
	iss := s.opts.Issuer
	alg := "ES256"
	if k, err := s.opts.Signer.Signer(); err == nil {
		alg = k.Algorithm
	}
	scopes := []string{"openid", "profile"}
	for _, c := range s.opts.Clients.Configured() {
		for _, sc := range c.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	slices.Sort(scopes[2:])
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	m := map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + PathAuthorize,
		"token_endpoint":                                 iss + PathToken,
		"jwks_uri":                                       iss + "/.well-known/jwks.json",
		"userinfo_endpoint":                              iss + PathUserinfo,
		"revocation_endpoint":                            iss + PathRevoke,
		"introspection_endpoint":                         iss + PathIntrospect,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          auth,
		"revocation_endpoint_auth_methods_supported":     auth,
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                               scopes,
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "preferred_username"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{alg},
		"prompt_values_supported":                        []string{"none", "login", "consent", "select_account"},
		"authorization_response_iss_parameter_supported": true,
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
	}
	b, _ := json.Marshal(m)
	return b
}
