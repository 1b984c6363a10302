package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/web"
)

// Paths of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
const (
	PathEndSession        = "/oauth2/logout"
	PathEndSessionConfirm = "/oauth2/logout/confirm"
)

// Bounds of the logout request's parameters: an ID token of ours is well
// under 4 KiB; the rest are a client id, a URI and an opaque value.
const (
	maxIDTokenHint = 8 << 10
	maxLogoutState = 512
)

// LogoutRequest is a parsed RP-initiated logout request (§2). Nothing in
// it is verified yet: checkLogout does that.
type LogoutRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// errLogout is every malformed logout request.
var errLogout = errors.New("oauth: malformed logout request")

// ParseLogoutRequest reads the logout parameters from the query (GET) or
// form (POST) values: each at most once (a repeated parameter is
// ambiguous, and two parsers reading different copies is how redirect
// checks are bypassed), within length bounds, the state printable ASCII.
// Other parameters (ui_locales, logout_hint) are ignored, as §2 allows.
func ParseLogoutRequest(v url.Values) (*LogoutRequest, error) {
	one := func(k string, max int) (string, error) {
		vs := v[k]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1 || len(vs[0]) > max:
			return "", errLogout
		}
		return vs[0], nil
	}
	var r LogoutRequest
	var err error
	for _, f := range []struct {
		dst *string
		key string
		max int
	}{
		{&r.IDTokenHint, "id_token_hint", maxIDTokenHint},
		{&r.ClientID, "client_id", 256},
		{&r.PostLogoutRedirectURI, "post_logout_redirect_uri", 2000},
		{&r.State, "state", maxLogoutState},
	} {
		if *f.dst, err = one(f.key, f.max); err != nil {
			return nil, err
		}
	}
	for i := 0; i < len(r.State); i++ {
		if r.State[i] < 0x20 || r.State[i] > 0x7e {
			return nil, errLogout
		}
	}
	return &r, nil
}

// encode is the request as form values (the confirmation form carries it).
func (l *LogoutRequest) encode() string {
	v := url.Values{}
	for k, x := range map[string]string{"id_token_hint": l.IDTokenHint, "client_id": l.ClientID,
		"post_logout_redirect_uri": l.PostLogoutRedirectURI, "state": l.State} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v.Encode()
}

// hintClaims are the claims of an id_token_hint that logout reads.
type hintClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	AZP      string          `json:"azp"`
	ClientID string          `json:"client_id"` // present in access tokens only
}

// errHint is every id_token_hint that is not an ID token we issued.
var errHint = errors.New("oauth: the id_token_hint is not an ID token issued here")

// verifyIDTokenHint checks that tok is an ID token this server issued:
// a compact JWS with a published key's one algorithm and a valid
// signature, typ JWT, iss our issuer, aud a single client id equal to
// azp. An access token (typ at+jwt, a client_id claim, an audience that
// is a resource URL) is refused: only ID tokens name a logout's client.
//
// Expiry is deliberately not checked: RP-Initiated Logout 1.0 §2 says
// the OP SHOULD accept an ID token whose exp has passed, since an RP
// logs out long after sign-in. Logging out with an old token only ends
// the session of the user it names, after confirmation unless that user
// is the one signed in here (handleEndSession).
func (s *Server) verifyIDTokenHint(ctx context.Context, tok string) (*hintClaims, string, error) {
	_, set := s.opts.Keys.PublicKeySet()
	algs := make([]jose.SignatureAlgorithm, 0, len(set.Keys))
	for _, k := range set.Keys {
		if k.Algorithm != "" && !slices.Contains(algs, jose.SignatureAlgorithm(k.Algorithm)) {
			algs = append(algs, jose.SignatureAlgorithm(k.Algorithm))
		}
	}
	jws, err := jose.ParseSignedCompact(tok, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", errHint
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "JWT" {
		return nil, "", errHint
	}
	key, err := s.idKeys.Key(ctx, h.KeyID)
	if err != nil || key.IsSymmetric() || key.Algorithm != h.Algorithm {
		return nil, "", errHint
	}
	payload, err := jws.Verify(key.Public())
	if err != nil {
		return nil, "", errHint
	}
	var c hintClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", errHint
	}
	var aud string
	if err := json.Unmarshal(c.Audience, &aud); err != nil {
		var auds []string
		if json.Unmarshal(c.Audience, &auds) != nil || len(auds) != 1 {
			return nil, "", errHint
		}
		aud = auds[0]
	}
	if c.Issuer != s.opts.Issuer || c.Subject == "" || c.ClientID != "" || aud == "" || c.AZP != aud {
		return nil, "", errHint
	}
	return &c, aud, nil
}

// logoutContext is a verified logout request.
type logoutContext struct {
	req      *LogoutRequest
	client   *Client // nil when no client was named
	hint     *hintClaims
	redirect string // the matched post-logout redirect URI, or ""
}

// logoutRefusal is why a logout request was refused: an audit reason and
// the page's text.
type logoutRefusal struct{ reason, msg string }

// checkLogout verifies a logout request. The browser is sent to
// post_logout_redirect_uri only when it exactly equals one of the
// client's registered post_logout_redirect_uris (§3, and RFC 9700 §4.11
// on open redirectors): an unregistered, unknown-client or client-less
// URI is refused with the error page, never followed.
func (s *Server) checkLogout(ctx context.Context, req *LogoutRequest) (*logoutContext, *logoutRefusal, error) {
	lc := &logoutContext{req: req}
	clientID := req.ClientID
	if req.IDTokenHint != "" {
		c, aud, err := s.verifyIDTokenHint(ctx, req.IDTokenHint)
		if err != nil {
			return nil, &logoutRefusal{"invalid_id_token_hint", "The sign-out request could not be verified."}, nil
		}
		// §2: when both are present, client_id must be the hint's aud.
		if clientID != "" && clientID != aud {
			return nil, &logoutRefusal{"client_mismatch", "The sign-out request could not be verified."}, nil
		}
		lc.hint, clientID = c, aud
	}
	if clientID != "" {
		c, err := s.opts.Clients.Get(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &logoutRefusal{"unknown_client", "The application that asked to sign you out is not registered."}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		lc.client = c
	}
	if req.PostLogoutRedirectURI != "" {
		if lc.client == nil || !slices.Contains(lc.client.PostLogoutRedirectURIs, req.PostLogoutRedirectURI) {
			return nil, &logoutRefusal{"unregistered_post_logout_redirect_uri", "The address to return to after signing out is not registered for this application."}, nil
		}
		lc.redirect = req.PostLogoutRedirectURI
	}
	return lc, nil, nil
}

// logoutValues reads the request's parameters: the query for GET, the
// form body for POST (§2 allows both).
func logoutValues(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.PostForm, nil
	}
	return url.ParseQuery(r.URL.RawQuery)
}

// handleEndSession is the end_session_endpoint. The session ends at once
// only when the id_token_hint names the user signed in here: anything
// else (no hint, another user's hint) asks the user to confirm with a
// CSRF-protected form, so a link or an image on another site cannot sign
// a user out (§6, "logout CSRF").
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	v, err := logoutValues(r)
	var req *LogoutRequest
	if err == nil {
		req, err = ParseLogoutRequest(v)
	}
	if err != nil {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionRPLogout, Target: "path:" + PathEndSession, Outcome: audit.OutcomeDenied, Reason: "malformed"})
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The sign-out request is malformed.", ErrInvalidRequest)
		return
	}
	lc, ok := s.verifiedLogout(w, r, req)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		// An RP's form POST is a cross-site POST: the SameSite=Lax session
		// cookie is not sent with it, so this request cannot see who is
		// signed in. A 303 turns it into a top-level GET navigation, which
		// carries the cookie (RFC 6265bis §5.6.7.1, "Lax"); the verified
		// parameters go along re-encoded.
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, PathEndSession+"?"+req.encode(), http.StatusSeeOther) // #nosec G710 -- a fixed path with re-encoded, verified parameters
		return
	}
	sess, err := s.opts.Sessions.Get(r.Context(), r)
	if err != nil && !errors.Is(err, identity.ErrNoSession) {
		s.log.ErrorContext(r.Context(), "logout", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	if sess == nil {
		s.loggedOut(w, r, lc, nil)
		return
	}
	if lc.hint != nil && lc.hint.Subject == sess.UserID {
		s.endForLogout(w, r, lc, sess)
		return
	}
	s.renderLogoutConfirm(w, r, lc)
}

// handleEndSessionConfirm is the confirmation form's target.
func (s *Server) handleEndSessionConfirm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + PathEndSessionConfirm, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "The form expired or was not submitted from this site.", "")
		return
	}
	v, err := url.ParseQuery(r.PostForm.Get("request"))
	var req *LogoutRequest
	if err == nil {
		req, err = ParseLogoutRequest(v)
	}
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The sign-out request is malformed.", ErrInvalidRequest)
		return
	}
	lc, ok := s.verifiedLogout(w, r, req)
	if !ok {
		return
	}
	sess, err := s.opts.Sessions.Get(r.Context(), r)
	if err != nil {
		s.loggedOut(w, r, lc, nil)
		return
	}
	if r.PostForm.Get("decision") != "logout" {
		// "Stay signed in": back to the account page, never to the client.
		http.Redirect(w, r, PathAccount, http.StatusSeeOther)
		return
	}
	s.endForLogout(w, r, lc, sess)
}

// verifiedLogout runs checkLogout and writes the refusal page.
func (s *Server) verifiedLogout(w http.ResponseWriter, r *http.Request, req *LogoutRequest) (*logoutContext, bool) {
	lc, refusal, err := s.checkLogout(r.Context(), req)
	if err != nil {
		s.log.ErrorContext(r.Context(), "logout", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return nil, false
	}
	if refusal != nil {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionRPLogout, Target: s.logoutTarget(req.ClientID), Outcome: audit.OutcomeDenied, Reason: refusal.reason})
		s.errorPage(w, r, http.StatusBadRequest, "Sign-out refused", refusal.msg, ErrInvalidRequest)
		return nil, false
	}
	return lc, true
}

func (s *Server) logoutTarget(clientID string) string {
	if clientID == "" || len(clientID) > 256 {
		return "path:" + PathEndSession
	}
	return s.clientTarget(clientID)
}

// endForLogout ends the browser's session, records it and continues.
func (s *Server) endForLogout(w http.ResponseWriter, r *http.Request, lc *logoutContext, sess *identity.Session) {
	if err := s.opts.Sessions.End(r.Context(), w, r); err != nil {
		s.log.ErrorContext(r.Context(), "logout", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	details := map[string]string{}
	if lc.client != nil {
		details["client_id"] = lc.client.ID
	}
	if lc.redirect != "" {
		details["redirect"] = "true"
	}
	s.audit(r, audit.Event{Actor: "user:" + sess.UserID, Action: audit.ActionRPLogout, Target: "user:" + sess.UserID, Outcome: audit.OutcomeSuccess, Details: details})
	s.loggedOut(w, r, lc, sess)
}

// loggedOut sends the browser to the verified post-logout redirect URI
// with state (§3), or shows the signed-out page.
func (s *Server) loggedOut(w http.ResponseWriter, r *http.Request, lc *logoutContext, _ *identity.Session) {
	if lc.redirect != "" {
		u, err := url.Parse(lc.redirect)
		if err == nil {
			if lc.req.State != "" {
				q := u.Query()
				q.Set("state", lc.req.State)
				u.RawQuery = q.Encode()
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, u.String(), http.StatusSeeOther) // #nosec G710 -- a post_logout_redirect_uri registered for the client, matched exactly (checkLogout)
			return
		}
	}
	var client *ClientDisplay
	if lc.client != nil {
		d := DisplayClient(lc.client)
		client = &d
	}
	web.Render(w, s.log, http.StatusOK, "logged_out.html", map[string]any{"Client": client})
}

func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, lc *logoutContext) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	var client *ClientDisplay
	if lc.client != nil {
		d := DisplayClient(lc.client)
		client = &d
	}
	var targets []string
	if lc.redirect != "" {
		targets = append(targets, redirectOrigin(lc.redirect))
	}
	web.Render(w, s.log, http.StatusOK, "logout.html", map[string]any{"CSRF": tok, "Request": lc.req.encode(), "Client": client}, targets...)
}
