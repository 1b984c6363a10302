package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
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

// readForm parses an application/x-www-form-urlencoded body (RFC 6749
// §4.1.3) and returns only the body's parameters: credentials and codes in
// the query string would be logged by every proxy on the way.
func readForm(r *http.Request) (url.Values, *Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oerr(ErrInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, oerr(ErrInvalidRequest, "parameters must be sent in the body, not the URL")
	}
	if err := r.ParseForm(); err != nil {
		return nil, oerr(ErrInvalidRequest, "the body is not a valid form")
	}
	return r.PostForm, nil
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, e := readForm(r)
	if e != nil {
		writeError(w, e, false)
		return
	}
	client, basic := s.authClient(w, r, form, "oauth.token")
	if client == nil {
		return
	}
	if !s.limitToken(w, r, client) {
		return
	}
	req, e := ParseTokenRequest(form)
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	var resp *tokenResponse
	switch req.GrantType {
	case GrantAuthorizationCode:
		resp, e = s.grantCode(r, client, req)
	case GrantClientCredentials:
		resp, e = s.grantClientCredentials(r, client, req)
	case GrantRefreshToken:
		resp, e = s.grantRefresh(r, client, req)
	default:
		e = oerr(ErrUnsupportedGrantType, "the grant type is not supported")
	}
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	s.chargeToken(r, client)
	writeJSON(w, http.StatusOK, resp)
}

// fail logs a server error's cause and answers the error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *Error, basic bool) {
	if e.Code == ErrServerError {
		s.log.ErrorContext(r.Context(), "token endpoint", "err", e.Cause)
	}
	writeError(w, e, basic)
}

// Grant types.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

func (s *Server) ttl(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// s256 checks an RFC 7636 §4.6 S256 verifier against a challenge in
// constant time.
func s256(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
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

func (s *Server) grantCode(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	ctx := r.Context()
	if !c.Allows(GrantAuthorizationCode) {
		return nil, oerr(ErrUnauthorizedClient, "the client may not use this grant")
	}
	if req.Code == "" || len(req.Code) > 128 {
		return nil, oerr(ErrInvalidRequest, "code is required")
	}
	now := s.now().UTC()
	familyID, err := randomToken(s.rand, 16)
	if err != nil {
		return nil, serverError(err)
	}
	codeHash := hashToken(req.Code)
	fam := &Family{ID: familyID, ClientID: c.ID, CreatedAt: now, ExpiresAt: now.Add(s.ttl(c.RefreshTokenTTL, s.opts.RefreshTokenTTL))}
	code, err := s.opts.Store.RedeemCode(ctx, codeHash, fam, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oerr(ErrInvalidGrant, "the code is invalid, expired or already used")
	case errors.Is(err, store.ErrUsed):
		// A second use of a code: someone holds a copy. Revoke everything
		// issued from it (RFC 6749 §4.1.2, RFC 9700 §4.5).
		tokens, rerr := s.opts.Store.RevokeCodeFamily(ctx, codeHash, now)
		if rerr == nil {
			rerr = s.denyAccess(ctx, tokens)
		}
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.code_replay", Target: "user:" + code.UserID, Outcome: audit.OutcomeFailure,
			Reason: "code_reused", Details: map[string]string{"code_client": code.ClientID, "revoked_access_tokens": itoa(len(tokens))}})
		if rerr != nil {
			return nil, serverError(rerr)
		}
		return nil, oerr(ErrInvalidGrant, "the code is invalid, expired or already used")
	case err != nil:
		return nil, serverError(err)
	}
	// The code is spent whatever happens next: every failed check below
	// costs the holder the code (one attempt per code).
	bad := func(reason, desc string) (*tokenResponse, *Error) {
		tokens, rerr := s.opts.Store.RevokeFamily(ctx, familyID, now)
		if rerr == nil {
			rerr = s.denyAccess(ctx, tokens)
		}
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.token", Target: "client:" + code.ClientID, Outcome: audit.OutcomeFailure,
			Reason: reason, Details: map[string]string{"grant_type": GrantAuthorizationCode}})
		if rerr != nil {
			return nil, serverError(rerr)
		}
		return nil, oerr(ErrInvalidGrant, "%s", desc)
	}
	switch {
	case !now.Before(code.ExpiresAt):
		return bad("code_expired", "the code is invalid, expired or already used")
	case code.ClientID != c.ID:
		// RFC 6749 §4.1.3: the code must have been issued to this client.
		return bad("code_wrong_client", "the code is invalid, expired or already used")
	case req.RedirectURI != code.RedirectURI:
		return bad("redirect_uri_mismatch", "redirect_uri does not match the authorization request")
	case req.CodeVerifier == "":
		return bad("pkce_missing", "code_verifier is required")
	case !validVerifier(req.CodeVerifier) || !s256(req.CodeVerifier, code.CodeChallenge):
		return bad("pkce_mismatch", "code_verifier does not match the code_challenge")
	}
	aud, e := narrowAudience(code.Audience, req.Resource)
	if e != nil {
		return bad("invalid_target", e.Description)
	}
	scopes := code.Scopes
	if req.ScopeGiven {
		return bad("scope_on_code", "scope is not allowed on the authorization_code grant")
	}
	user, err := s.opts.Users.ByID(ctx, code.UserID)
	if err != nil || user.Disabled {
		return bad("user_unavailable", "the user is no longer active")
	}
	resp, e := s.issue(ctx, c, user, familyID, scopes, aud, code.AuthTime, code.Nonce, now, fam.ExpiresAt, true)
	if e != nil {
		return nil, e
	}
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.token", Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"grant_type": GrantAuthorizationCode, "scope": scopeString(scopes), "family": familyID}}); err != nil {
		return nil, serverError(err)
	}
	return resp, nil
}

// issue mints the access token (recorded in the family), an ID token when
// openid was granted, and a refresh token when the client may refresh.
func (s *Server) issue(ctx context.Context, c *Client, user *identity.User, familyID string, scopes, aud []string,
	authTime time.Time, nonce string, now, familyExpiry time.Time, withIDToken bool) (*tokenResponse, *Error) {
	key, err := s.opts.Signer.Signer()
	if err != nil {
		return nil, serverError(err)
	}
	accessTTL := s.ttl(c.AccessTokenTTL, s.opts.AccessTokenTTL)
	jti, err := randomToken(s.rand, 16)
	if err != nil {
		return nil, serverError(err)
	}
	exp := now.Add(accessTTL)
	at, err := sign(key, "at+jwt", accessClaims{
		Issuer: s.opts.Issuer, Subject: user.ID, Audience: aud, Expiry: exp.Unix(), IssuedAt: now.Unix(), NotBef: now.Unix(),
		ID: jti, ClientID: c.ID, Scope: scopeString(scopes), AuthTime: authTime.Unix(),
	})
	if err != nil {
		return nil, serverError(err)
	}
	if err := s.opts.Store.RecordAccess(ctx, familyID, IssuedAccess{JTI: jti, ExpiresAt: exp}); err != nil {
		if errors.Is(err, store.ErrRevoked) {
			return nil, oerr(ErrInvalidGrant, "the grant was revoked")
		}
		return nil, serverError(err)
	}
	resp := &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(accessTTL / time.Second), Scope: scopeString(scopes)}
	if withIDToken && slices.Contains(scopes, "openid") {
		claims := idClaims{
			Issuer: s.opts.Issuer, Subject: user.ID, Audience: c.ID, AZP: c.ID, Expiry: now.Add(s.opts.IDTokenTTL).Unix(),
			IssuedAt: now.Unix(), AuthTime: authTime.Unix(), Nonce: nonce, AtHash: tokenHashHalf(key.Algorithm, at),
		}
		if slices.Contains(scopes, "profile") {
			claims.Username = user.Username
		}
		if resp.IDToken, err = sign(key, "JWT", claims); err != nil {
			return nil, serverError(err)
		}
	}
	if c.Allows(GrantRefreshToken) {
		rt, err := randomToken(s.rand, 32)
		if err != nil {
			return nil, serverError(err)
		}
		t := &RefreshToken{
			Hash: hashToken(rt), FamilyID: familyID, ClientID: c.ID, UserID: user.ID, Scopes: scopes, Audience: aud,
			AuthTime: authTime, CreatedAt: now, ExpiresAt: minTime(now.Add(s.ttl(c.RefreshTokenIdleTTL, s.opts.RefreshTokenIdleTTL)), familyExpiry),
		}
		if err := s.opts.Store.SaveRefresh(ctx, t); err != nil {
			if errors.Is(err, store.ErrRevoked) {
				return nil, oerr(ErrInvalidGrant, "the grant was revoked")
			}
			return nil, serverError(err)
		}
		resp.RefreshToken = rt
	}
	return resp, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (s *Server) grantClientCredentials(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
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
	aud, e := s.audienceFor(c, req.Resource)
	if e != nil {
		return nil, e
	}
	key, err := s.opts.Signer.Signer()
	if err != nil {
		return nil, serverError(err)
	}
	now := s.now().UTC()
	jti, err := randomToken(s.rand, 16)
	if err != nil {
		return nil, serverError(err)
	}
	ttl := s.ttl(c.AccessTokenTTL, s.opts.AccessTokenTTL)
	at, err := sign(key, "at+jwt", accessClaims{
		Issuer: s.opts.Issuer, Subject: c.ID, Audience: aud, Expiry: now.Add(ttl).Unix(), IssuedAt: now.Unix(), NotBef: now.Unix(),
		ID: jti, ClientID: c.ID, Scope: scopeString(scopes),
	})
	if err != nil {
		return nil, serverError(err)
	}
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.token", Target: "client:" + c.ID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"grant_type": GrantClientCredentials, "scope": scopeString(scopes), "jti": jti}}); err != nil {
		return nil, serverError(err)
	}
	// No refresh token: the client can always authenticate again (OAuth
	// 2.1 §4.2.3, RFC 6749 §4.4.3).
	return &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second), Scope: scopeString(scopes)}, nil
}

func (s *Server) grantRefresh(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	ctx := r.Context()
	if !c.Allows(GrantRefreshToken) {
		return nil, oerr(ErrUnauthorizedClient, "the client may not use this grant")
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 128 {
		return nil, oerr(ErrInvalidRequest, "refresh_token is required")
	}
	invalid := oerr(ErrInvalidGrant, "the refresh token is invalid, expired or revoked")
	now := s.now().UTC()
	hash := hashToken(req.RefreshToken)
	old, err := s.opts.Store.GetRefresh(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, serverError(err)
	}
	if old.ClientID != c.ID {
		// Another client holds this client's refresh token: it leaked.
		return nil, s.revokeStolen(r, c, old, now, "refresh_wrong_client")
	}
	if !old.RevokedAt.IsZero() {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.refresh", Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure, Reason: "revoked"})
		return nil, invalid
	}
	if !old.UsedAt.IsZero() {
		return nil, s.revokeStolen(r, c, old, now, "refresh_reused")
	}
	if !now.Before(old.ExpiresAt) {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.refresh", Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure, Reason: "expired"})
		return nil, invalid
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
		old.Audience = []string{s.defaultAudience()}
	}
	aud, e := narrowAudience(old.Audience, req.Resource)
	if e != nil {
		return nil, e
	}
	user, err := s.opts.Users.ByID(ctx, old.UserID)
	if err != nil || user.Disabled {
		return nil, invalid
	}
	rt, err := randomToken(s.rand, 32)
	if err != nil {
		return nil, serverError(err)
	}
	familyExpiry := old.FamilyExpiresAt
	if familyExpiry.IsZero() {
		familyExpiry = old.ExpiresAt
	}
	// The new refresh token keeps the original grant (scope and audience):
	// narrowing applies to this access token only (RFC 6749 §6).
	next := &RefreshToken{
		Hash: hashToken(rt), ClientID: c.ID, UserID: old.UserID, Scopes: old.Scopes, Audience: old.Audience, AuthTime: old.AuthTime,
		CreatedAt: now, ExpiresAt: minTime(now.Add(s.ttl(c.RefreshTokenIdleTTL, s.opts.RefreshTokenIdleTTL)), familyExpiry),
	}
	if _, err := s.opts.Store.RotateRefresh(ctx, hash, next, now); err != nil {
		switch {
		case errors.Is(err, store.ErrUsed):
			// Lost a race with another use of the same token: a replay.
			return nil, s.revokeStolen(r, c, old, now, "refresh_reused")
		case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
			return nil, invalid
		}
		return nil, serverError(err)
	}
	// The access token; the refresh token was rotated above.
	noRefresh := *c
	noRefresh.GrantTypes = slices.DeleteFunc(slices.Clone(c.GrantTypes), func(g string) bool { return g == GrantRefreshToken })
	resp, e := s.issue(ctx, &noRefresh, user, old.FamilyID, scopes, aud, old.AuthTime, "", now, familyExpiry, true)
	if e != nil {
		return nil, e
	}
	resp.RefreshToken = rt
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.refresh", Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"scope": scopeString(scopes), "family": old.FamilyID}}); err != nil {
		return nil, serverError(err)
	}
	return resp, nil
}

// revokeStolen handles a refresh token presented after it was rotated, or
// by another client: one of the holders is not legitimate and the server
// cannot tell which, so the whole family is revoked (RFC 9700 §4.14.2,
// OAuth 2.1 §4.3.1) and the event audited as a likely theft.
func (s *Server) revokeStolen(r *http.Request, c *Client, old *RefreshToken, now time.Time, reason string) *Error {
	tokens, err := s.opts.Store.RevokeFamily(r.Context(), old.FamilyID, now)
	if err == nil {
		err = s.denyAccess(r.Context(), tokens)
	}
	s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.refresh_reuse", Target: "user:" + old.UserID, Outcome: audit.OutcomeFailure,
		Reason: reason, Details: map[string]string{"family": old.FamilyID, "token_client": old.ClientID, "revoked_access_tokens": itoa(len(tokens))}})
	s.log.WarnContext(r.Context(), "refresh token reuse: family revoked (likely token theft)", "client", c.ID, "family", old.FamilyID, "reason", reason)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return serverError(err)
	}
	return oerr(ErrInvalidGrant, "the refresh token is invalid, expired or revoked")
}

func itoa(n int) string { return strconv.Itoa(n) }
