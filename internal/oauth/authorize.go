package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/web"
)

// codeSaver stores the authorization codes the authorization endpoint
// issues.
type codeSaver interface {
	// SaveCode stores a new authorization code.
	SaveCode(ctx context.Context, c *AuthCode) error
}

// consentStore remembers what users allowed clients (the consent page).
type consentStore interface {
	GetConsent(ctx context.Context, userID, clientID string) (*Consent, error) // store.ErrNotFound
	SaveConsent(ctx context.Context, c *Consent) error                         // insert or replace
}

// authzContext is an authorization request whose client and redirect URI
// are verified: from here on, errors go back to the client by redirect.
type authzContext struct {
	req      *AuthorizeRequest
	client   *Client
	redirect string
	audience []string
	raw      string // the request's query, to come back to after login
	canon    string // raw without the login proof: what the proof signs
	proof    string // the ParamLoginProof value, if any (unverified)
	// pushed is the pushed request (RFC 9126) whose stored parameters
	// are req; nil for a plain request.
	pushed *pushedRef
}

// maxRawRequest bounds the authorization request carried through the
// login and consent forms.
const maxRawRequest = 16 << 10

// checkAuthorize validates an authorization request. A non-nil page error
// means the client or redirect URI could not be verified: show an error
// page, never redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11 open
// redirectors). Otherwise a non-nil *Error is sent to the redirect URI.
//
// A request naming a request_uri is a pushed one (RFC 9126 §4): its
// stored parameters drive the flow (checkPushed). A plain request from a
// client that must push is refused (RFC 9126 §5, §6).
func (s *Server) checkAuthorize(ctx context.Context, v url.Values) (*authzContext, *Error, *Error) {
	// The login proof is the server's own parameter, not part of the
	// client's request: it is split off before parsing and signing.
	var proof string
	if len(v[ParamLoginProof]) == 1 {
		proof = v.Get(ParamLoginProof)
	}
	clean := url.Values{}
	for k, vs := range v {
		if k != ParamLoginProof {
			clean[k] = vs
		}
	}
	if clean.Has("request_uri") {
		return s.checkPushed(ctx, clean, proof)
	}
	raw := v.Encode()
	if len(raw) > maxRawRequest {
		return nil, nil, oerr(ErrInvalidRequest, "the request is too large")
	}
	a, redirErr, pageErr := s.validateAuthorize(ctx, clean)
	if pageErr != nil {
		return nil, nil, pageErr
	}
	a.raw, a.canon, a.proof = raw, clean.Encode(), proof
	if redirErr == nil && s.mustPush(a.client) {
		redirErr = oerr(ErrInvalidRequest, "this client must use a pushed authorization request (PAR, RFC 9126)")
	}
	return a, redirErr, nil
}

// validateAuthorize is the one validator of an authorization request's
// parameters, shared by the authorization endpoint and the pushed
// authorization request endpoint (RFC 9126 §2.1: a pushed request is
// checked as the authorization endpoint would). A non-nil page error
// means the client or redirect URI could not be verified; otherwise a is
// set and a non-nil redirect error is what the client is told.
func (s *Server) validateAuthorize(ctx context.Context, clean url.Values) (*authzContext, *Error, *Error) {
	req, perr := ParseAuthorizeRequest(clean)
	if perr != nil && !perr.Redirectable {
		return nil, nil, perr.Error
	}
	c, err := s.opts.Clients.Get(ctx, req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, oerr(ErrInvalidClient, "the client is not registered")
	}
	if err != nil {
		return nil, nil, serverError(err)
	}
	redirect := c.MatchRedirectURI(req.RedirectURI)
	if redirect == "" {
		return nil, nil, oerr(ErrInvalidRequest, "the redirect_uri is not registered for this client")
	}
	if len(clean.Encode()) > maxRawRequest {
		return nil, nil, oerr(ErrInvalidRequest, "the request is too large")
	}
	a := &authzContext{req: req, client: c, redirect: redirect}
	if perr != nil {
		return a, perr.Error, nil
	}
	if e := checkCodeRequest(req, c); e != nil {
		return a, e, nil
	}
	aud, e := s.audienceFor(c, req.Resource)
	if e != nil {
		return a, e, nil
	}
	a.audience = aud
	return a, nil, nil
}

// checkCodeRequest checks what an authorization request asks of client c:
// the code flow with PKCE S256, and scopes the client may have. The error
// goes back to the client by redirect.
func checkCodeRequest(req *AuthorizeRequest, c *Client) *Error {
	switch {
	case req.HasRequestObject:
		return oerr(ErrRequestNotSupported, "request objects are not supported")
	case req.HasRequestURI:
		return oerr(ErrRequestURINotSupported, "request_uri is not supported")
	case req.ResponseType == "":
		return oerr(ErrInvalidRequest, "response_type is required")
	case req.ResponseType != "code":
		// OAuth 2.1 §4.1 / RFC 9700 §2.1.2: no implicit or hybrid flows.
		return oerr(ErrUnsupportedResponseType, "only response_type=code is supported")
	case req.ResponseMode != "" && req.ResponseMode != "query":
		return oerr(ErrInvalidRequest, "only response_mode=query is supported")
	case !c.Allows(GrantAuthorizationCode):
		return oerr(ErrUnauthorizedClient, "the client may not use the authorization code grant")
	// PKCE with S256 for every client, public or confidential (OAuth 2.1
	// §4.1.1, RFC 9700 §2.1.1). plain is refused: it protects nothing when
	// the request itself leaks (RFC 7636 §7.2).
	case req.CodeChallenge == "":
		return oerr(ErrInvalidRequest, "code_challenge is required (PKCE with S256)")
	case req.CodeChallengeMethod != "S256":
		return oerr(ErrInvalidRequest, "code_challenge_method must be S256")
	case !validChallenge(req.CodeChallenge):
		return oerr(ErrInvalidRequest, "code_challenge is not a base64url SHA-256 digest")
	}
	for _, sc := range req.Scopes {
		if !slices.Contains(c.Scopes, sc) {
			return oerr(ErrInvalidScope, "the client may not request scope %q", clip(sc))
		}
	}
	return nil
}

// audienceFor is the access token audience: the client's configured
// audience, narrowed to resource when one is asked for (RFC 8707 §2.2),
// or Rampart's own userinfo endpoint when it has none (defaultAudience).
func (s *Server) audienceFor(c *Client, resource string) ([]string, *Error) {
	return clientAudience(c, resource, s.defaultAudience())
}

// clientAudience is audienceFor with the server's default audience def.
func clientAudience(c *Client, resource, def string) ([]string, *Error) {
	if resource != "" {
		if !slices.Contains(c.Audience, resource) {
			return nil, oerr(ErrInvalidTarget, "the client may not request this resource")
		}
		return []string{resource}, nil
	}
	if len(c.Audience) == 0 {
		return []string{def}, nil
	}
	return slices.Clone(c.Audience), nil
}

// redirectError sends an error to the client's redirect URI with state
// and iss (RFC 6749 §4.1.2.1, RFC 9207 §2).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, a *authzContext, e *Error) {
	params := url.Values{"error": {e.Code}}
	if e.Description != "" {
		params.Set("error_description", e.Description)
	}
	s.audit(r, audit.Event{Actor: "client:" + a.client.ID, Action: audit.ActionAuthorize, Target: "client:" + a.client.ID,
		Outcome: audit.OutcomeDenied, Reason: e.Code})
	s.redirectTo(w, r, a, params)
}

func (s *Server) redirectTo(w http.ResponseWriter, r *http.Request, a *authzContext, params url.Values) {
	u, err := url.Parse(a.redirect)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The redirect URI is not valid.", ErrInvalidRequest)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if a.req.State != "" {
		q.Set("state", a.req.State)
	}
	q.Set("iss", s.opts.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther) // #nosec G710 -- the client's registered redirect URI, matched exactly (MatchRedirectURI)
}

// authorizeValues reads the request parameters: the query for GET, the
// form body for POST (OIDC Core §3.1.2.1 allows both).
func authorizeValues(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.PostForm, nil
	}
	return url.ParseQuery(r.URL.RawQuery)
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	v, err := authorizeValues(r)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The authorization request is malformed.", ErrInvalidRequest)
		return
	}
	a, redirErr, pageErr := s.checkAuthorize(r.Context(), v)
	if pageErr != nil {
		s.authorizePageError(w, r, pageErr)
		return
	}
	if redirErr != nil {
		s.redirectError(w, r, a, redirErr)
		return
	}
	s.continueAuthorize(w, r, a)
}

func (s *Server) authorizePageError(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Code == ErrServerError {
		s.log.ErrorContext(r.Context(), "authorize", "err", e.Cause)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "The request could not be completed. Try again later.", ErrServerError)
		return
	}
	s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionAuthorize, Target: "path:" + PathAuthorize, Outcome: audit.OutcomeDenied, Reason: e.Code})
	s.errorPage(w, r, http.StatusBadRequest, "Invalid request", e.Description+".", e.Code)
}

// continueAuthorize runs the user-facing part: login, consent, code.
func (s *Server) continueAuthorize(w http.ResponseWriter, r *http.Request, a *authzContext) {
	ctx := r.Context()
	sess, err := s.opts.Sessions.Get(ctx, r)
	if err != nil && !errors.Is(err, identity.ErrNoSession) {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	var user *identity.User
	if sess != nil {
		user, err = s.opts.Users.ByID(ctx, sess.UserID)
		if err != nil || user.Disabled {
			sess, user = nil, nil
		}
	}
	if s.needsLogin(a, sess) {
		if slices.Contains(a.req.Prompt, "none") {
			s.redirectError(w, r, a, oerr(ErrLoginRequired, "the user must sign in"))
			return
		}
		// Back to this endpoint after login with the whole request: prompt
		// (login, consent) and max_age are kept, and only the proof the
		// sign-in adds (ParamLoginProof) satisfies prompt=login and max_age
		// again. Dropping them let the carried request be replayed with the
		// old session (OIDC Core §3.1.2.1).
		s.toLogin(w, r, a)
		return
	}
	if user.MustChangePassword {
		// No code for a user who still has to replace a one-time password
		// (prompt=none cannot show the form: login_required).
		if slices.Contains(a.req.Prompt, "none") {
			s.redirectError(w, r, a, oerr(ErrLoginRequired, "the user must sign in"))
			return
		}
		s.toPasswordChange(w, r, a.canon)
		return
	}
	if needsMFA(a, user, sess) {
		if slices.Contains(a.req.Prompt, "none") {
			s.redirectError(w, r, a, oerr(ErrLoginRequired, "the user must sign in with the second factor"))
			return
		}
		// Step-up: the session has no otp, but the user's role, the
		// client (require_mfa) or the request (acr_values) needs it.
		s.stepUp(w, r, a, user)
		return
	}
	if s.needsConsent(ctx, a, user.ID) {
		if slices.Contains(a.req.Prompt, "none") {
			s.redirectError(w, r, a, oerr(ErrConsentRequired, "the user has not allowed this client"))
			return
		}
		s.renderConsent(w, r, a, user)
		return
	}
	s.issueCode(w, r, a, user, sess)
}

// toLogin sends the browser to the login page, to come back with the
// request (any stale proof removed: the sign-in adds a new one).
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, a *authzContext) {
	http.Redirect(w, r, PathLogin+"?"+url.Values{"return": {a.canon}}.Encode(), http.StatusSeeOther)
}

// needsConsent: prompt=consent always asks, even a first-party client's
// user (OIDC Core §3.1.2.1: the server SHOULD prompt; the relying party
// asked explicitly, and asking is never less safe). Otherwise first-party
// clients skip it, and a remembered consent must cover every requested
// scope and every requested resource (consentResources): consent is bound
// to what the user was shown.
func (s *Server) needsConsent(ctx context.Context, a *authzContext, userID string) bool {
	if slices.Contains(a.req.Prompt, "consent") {
		return true
	}
	if a.client.SkipConsent {
		return false
	}
	c, err := s.consents.GetConsent(ctx, userID, a.client.ID)
	if err != nil {
		return true
	}
	return !covers(c, a.req.Scopes, consentResources(a))
}

// redirectOrigin is the CSP form-action source for a redirect URI.
func redirectOrigin(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, a *authzContext, user *identity.User) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	client := DisplayClient(a.client)
	web.RenderWith(w, s.log, http.StatusOK, "consent.html", map[string]any{
		"Client": client, "Username": user.Username, "Scopes": s.DescribeScopes(a.req.Scopes), "Resources": consentResources(a),
		"CSRF": tok, "Request": a.raw,
	}, web.Policy{FormTargets: []string{redirectOrigin(a.redirect)}, ImageSources: []string{imageOrigin(client.LogoURI)}})
}

// issueCode stores a new authorization code and redirects with it.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, a *authzContext, user *identity.User, sess *identity.Session) {
	// 256 random bits: far above RFC 6749 §10.10's "infeasible to guess"
	// and the issue's 128-bit floor. Stored only as its SHA-256.
	code, err := randomToken(s.rand, 32)
	if err != nil {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	now := s.now().UTC()
	if !s.usePushed(w, r, a, user, now) {
		return
	}
	ac := &AuthCode{
		Hash: hashToken(code), ClientID: a.client.ID, UserID: user.ID, RedirectURI: a.req.RedirectURI,
		CodeChallenge: a.req.CodeChallenge, Scopes: a.req.Scopes, Audience: a.audience, Nonce: a.req.Nonce,
		DPoPJKT: a.req.DPoPJKT, AuthTime: sess.AuthTime.UTC(), AMR: sess.AMR, CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	}
	if err := s.codes.SaveCode(r.Context(), ac); err != nil {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	if err := s.mustAudit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionAuthorize, Target: "client:" + a.client.ID,
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"scope": scopeString(a.req.Scopes)}}); err != nil {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	s.redirectTo(w, r, a, url.Values{"code": {code}})
}

func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form is malformed.", ErrInvalidRequest)
		return
	}
	if !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + PathConsent, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "The form expired or was not submitted from this site. Go back and try again.", "")
		return
	}
	raw := r.PostForm.Get("request")
	v, err := url.ParseQuery(raw)
	if err != nil || len(raw) > maxRawRequest {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The authorization request is malformed.", ErrInvalidRequest)
		return
	}
	a, redirErr, pageErr := s.checkAuthorize(r.Context(), v)
	if pageErr != nil {
		s.authorizePageError(w, r, pageErr)
		return
	}
	if redirErr != nil {
		s.redirectError(w, r, a, redirErr)
		return
	}
	sess, err := s.opts.Sessions.Get(r.Context(), r)
	if err != nil {
		// Signed out meanwhile: start over through the authorize endpoint.
		http.Redirect(w, r, PathAuthorize+"?"+a.raw, http.StatusSeeOther) // #nosec G710 -- fixed path, re-encoded query of a validated request
		return
	}
	user, err := s.opts.Users.ByID(r.Context(), sess.UserID)
	if err != nil || user.Disabled {
		http.Redirect(w, r, PathAuthorize+"?"+a.raw, http.StatusSeeOther) // #nosec G710 -- fixed path, re-encoded query of a validated request
		return
	}
	// The consent form carries the request, so a hand-built post could
	// name any request: the same sign-in rules as at the authorize
	// endpoint apply (prompt=login, max_age), or it is a replay with an
	// old session.
	if s.needsLogin(a, sess) {
		s.toLogin(w, r, a)
		return
	}
	if user.MustChangePassword {
		s.toPasswordChange(w, r, a.canon)
		return
	}
	// Likewise the second factor: a hand-built consent post for a
	// require_mfa client must not skip the step-up.
	if needsMFA(a, user, sess) {
		http.Redirect(w, r, PathAuthorize+"?"+a.raw, http.StatusSeeOther) // #nosec G710 -- fixed path, re-encoded query of a validated request
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		s.allowConsent(w, r, a, user, sess)
	case "deny":
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionConsent, Target: "client:" + a.client.ID,
			Outcome: audit.OutcomeDenied, Reason: "user_denied"})
		s.redirectError(w, r, a, oerr(ErrAccessDenied, "the user denied the request"))
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "Choose Allow or Deny.", ErrInvalidRequest)
	}
}

// allowConsent remembers that user allowed the request (merged with what
// they allowed before, mergeConsent) and issues the code.
func (s *Server) allowConsent(w http.ResponseWriter, r *http.Request, a *authzContext, user *identity.User, sess *identity.Session) {
	var old *Consent
	if c, err := s.consents.GetConsent(r.Context(), user.ID, a.client.ID); err == nil {
		old = c
	}
	scopes, resources := mergeConsent(old, a.client, a.req.Scopes, consentResources(a))
	if err := s.consents.SaveConsent(r.Context(), &Consent{UserID: user.ID, ClientID: a.client.ID, Scopes: scopes, Audience: resources, GrantedAt: s.now().UTC()}); err != nil {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionConsent, Target: "client:" + a.client.ID,
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"scope": strings.Join(scopes, " "), "resource": strings.Join(resources, " ")}})
	s.issueCode(w, r, a, user, sess)
}
