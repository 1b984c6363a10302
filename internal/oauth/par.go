package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

// Pushed authorization requests (RFC 9126).
const (
	// RequestURIPrefix starts every request_uri (RFC 9126 §2.2).
	RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// PARTTL: a request_uri must be used within 60 s (RFC 9126 §2.2
	// suggests a short life; the issue fixes 60 s).
	PARTTL = 60 * time.Second
	// parFlowTTL is how long the flow a request_uri started may take
	// (sign-in, MFA, consent) before its code is issued.
	parFlowTTL = 10 * time.Minute
	// maxPARBody bounds the pushed form: an authorization request is
	// carried through the login and consent forms, which bound it to
	// maxRawRequest; client authentication (an assertion) adds to it.
	maxPARBody = maxRawRequest + maxAssertionBytes + 1024
)

// parStore keeps pushed authorization requests.
type parStore interface {
	// SavePushedRequest stores a new pushed request.
	SavePushedRequest(ctx context.Context, p *PushedRequest) error
	// OpenPushedRequest returns the unused request of clientID, opening
	// it: the first time only before ExpiresAt, later (the same flow back
	// from sign-in or consent) only while OpenedAt is after flowStart.
	// store.ErrNotFound otherwise.
	OpenPushedRequest(ctx context.Context, hash []byte, clientID string, now, flowStart time.Time) (*PushedRequest, error)
	// UsePushedRequest marks the opened request used, once across every
	// instance (a conditional UPDATE); store.ErrNotFound when it was used
	// already, or its flow is older than flowStart.
	UsePushedRequest(ctx context.Context, hash []byte, clientID string, now, flowStart time.Time) error
}

// pushedRef names the pushed request an authorization flow runs on.
type pushedRef struct {
	hash []byte
}

// mustPush reports whether c's authorization requests must be pushed:
// the global switch (oauth.require_pushed_authorization_requests, RFC
// 9126 §5) or the client's own (§6, or its fapi2 profile).
func (s *Server) mustPush(c *Client) bool { return s.opts.RequirePAR || c.requiresPAR() }

// handlePAR is the pushed authorization request endpoint (RFC 9126 §2):
// the client authenticates as at the token endpoint (the same
// authenticateClient and limits), the request is checked by the
// authorization endpoint's own validator (validateAuthorize), stored,
// and named by a request_uri of 256 random bits valid PARTTL.
func (s *Server) handlePAR(w http.ResponseWriter, r *http.Request) {
	s.setNonce(w) // the PAR request may carry a DPoP proof (par_dpop.go)
	r.Body = http.MaxBytesReader(w, r.Body, maxPARBody)
	form, e := readForm(r)
	if e != nil {
		if isTooLarge(r) {
			e = &Error{Code: ErrInvalidRequest, Description: "the request is too large", Status: http.StatusRequestEntityTooLarge}
		}
		writeError(w, e, false)
		return
	}
	client, basic := s.authClient(w, r, form, audit.ActionPAR)
	if client == nil {
		return
	}
	if !s.limitToken(w, r, client) {
		return
	}
	refuse := func(e *Error) {
		s.audit(r, audit.Event{Actor: "client:" + client.ID, Action: audit.ActionPAR, Target: "client:" + client.ID, Outcome: audit.OutcomeDenied, Reason: e.Code})
		s.fail(w, r, e, basic)
	}
	params, e := pushedParams(form, client.ID)
	if e == nil {
		e = s.bindPushedKey(r, client, params)
	}
	if e != nil {
		refuse(e)
		return
	}
	a, redirErr, pageErr := s.validateAuthorize(r.Context(), params)
	if pageErr != nil {
		if pageErr.Code == ErrInvalidClient {
			pageErr = oerr(ErrInvalidRequest, "%s", pageErr.Description)
		}
		refuse(pageErr)
		return
	}
	if redirErr != nil {
		refuse(redirErr)
		return
	}
	uri, err := randomToken(s.rand, 32)
	if err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	uri = RequestURIPrefix + uri
	now := s.now().UTC()
	p := &PushedRequest{Hash: hashToken(uri), ClientID: client.ID, Params: params.Encode(), CreatedAt: now, ExpiresAt: now.Add(PARTTL)}
	if err := s.pars.SavePushedRequest(r.Context(), p); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + client.ID, Action: audit.ActionPAR, Target: "client:" + client.ID,
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"scope": scopeString(a.req.Scopes)}}); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	s.chargeToken(r, client)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int(PARTTL / time.Second)})
}

// pushedParams is the authorization request in a pushed form: the form
// without its client authentication, with client_id set to the
// authenticated client's.
func pushedParams(form url.Values, clientID string) (url.Values, *Error) {
	params := url.Values{}
	for k, vs := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
			// authentication, not part of the authorization request
		default:
			params[k] = vs
		}
	}
	// RFC 9126 §2.1: request_uri must not be pushed (a request pointing
	// to another request would chain and outlive its 60 s).
	if params.Has("request_uri") {
		return nil, oerr(ErrInvalidRequest, "request_uri must not be pushed (RFC 9126 §2.1)")
	}
	// The authenticated client is the request's client (RFC 9126 §2.1).
	switch id := params.Get("client_id"); {
	case len(params["client_id"]) > 1:
		return nil, oerr(ErrInvalidRequest, "the client_id parameter appears more than once")
	case id == "":
		params.Set("client_id", clientID)
	case id != clientID:
		return nil, oerr(ErrInvalidRequest, "client_id differs from the authenticated client")
	}
	return params, nil
}

// isTooLarge reports whether reading r's body hit MaxBytesReader (which
// keeps answering its error once the limit was passed).
func isTooLarge(r *http.Request) bool {
	var mbe *http.MaxBytesError
	_, err := r.Body.Read(make([]byte, 1))
	return errors.As(err, &mbe)
}

// checkPushed is checkAuthorize for a request naming a request_uri (RFC
// 9126 §4). Only client_id and request_uri are read from the query; any
// other parameter is ignored and the stored ones drive the flow, so
// nothing the browser carries can change a pushed request.
//
// Single use, and the round trips through sign-in and consent: the
// request_uri is opened (first use, before its 60 s expire) here, and the
// flow carries only client_id and request_uri through the login and
// consent pages, coming back here, where the opened request is found
// again for at most parFlowTTL. It is consumed (a conditional UPDATE in
// the database, so once across a fleet) when its code is issued
// (usePushed). This was chosen over consuming it on first sight: that
// would need a second, server-side reference to carry the parameters
// through login and consent, or would let the carried plain request
// bypass require_pushed_authorization_requests. Either way exactly one
// code can come from a request_uri.
func (s *Server) checkPushed(ctx context.Context, clean url.Values, proof string) (*authzContext, *Error, *Error) {
	if len(clean["client_id"]) != 1 || len(clean["request_uri"]) != 1 {
		return nil, nil, oerr(ErrInvalidRequest, "client_id and request_uri are required once each")
	}
	clientID, uri := clean.Get("client_id"), clean.Get("request_uri")
	if !strings.HasPrefix(uri, RequestURIPrefix) || len(uri) > 256 {
		return nil, nil, oerr(ErrInvalidRequestURI, "the request_uri is not one this server issued")
	}
	now := s.now().UTC()
	p, err := s.pars.OpenPushedRequest(ctx, hashToken(uri), clientID, now, now.Add(-parFlowTTL))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, oerr(ErrInvalidRequestURI, "the request_uri is unknown, expired, used or not this client's")
	}
	if err != nil {
		return nil, nil, serverError(err)
	}
	params, err := url.ParseQuery(p.Params)
	if err != nil || params.Get("client_id") != clientID {
		return nil, nil, oerr(ErrInvalidRequestURI, "the pushed request is unusable")
	}
	a, redirErr, pageErr := s.validateAuthorize(ctx, params)
	if pageErr != nil {
		return nil, nil, pageErr
	}
	ref := url.Values{"client_id": {clientID}, "request_uri": {uri}}
	a.canon = ref.Encode()
	if proof != "" {
		ref.Set(ParamLoginProof, proof)
	}
	a.raw, a.proof, a.pushed = ref.Encode(), proof, &pushedRef{hash: p.Hash}
	return a, redirErr, nil
}

// usePushed consumes the pushed request of a before its code is issued;
// false when the request was answered (it was used already: a replay).
func (s *Server) usePushed(w http.ResponseWriter, r *http.Request, a *authzContext, user *identity.User, now time.Time) bool {
	if a.pushed == nil {
		return true
	}
	err := s.pars.UsePushedRequest(r.Context(), a.pushed.hash, a.client.ID, now, now.Add(-parFlowTTL))
	if errors.Is(err, store.ErrNotFound) {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionPARReplay, Target: "client:" + a.client.ID,
			Outcome: audit.OutcomeDenied, Reason: "request_uri_used"})
		s.redirectError(w, r, a, oerr(ErrInvalidRequest, "the request_uri was used already"))
		return false
	}
	if err != nil {
		s.redirectError(w, r, a, serverError(err))
		return false
	}
	return true
}
