package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store"
)

// PathDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1) and PathDevice the page where the user enters the code (§3.3, the
// verification_uri).
const (
	PathDeviceAuthorization = "/oauth2/device_authorization"
	PathDevice              = "/device"
)

// deviceSaver stores the device requests the endpoint starts.
type deviceSaver interface {
	// SaveDevice stores a new pending request. A live request holding the
	// same user code is store.ErrConflict (the caller draws another
	// code); an expired one holding it is deleted first.
	SaveDevice(ctx context.Context, d *DeviceCode) error
}

// deviceAuthResponse is RFC 8628 §3.2.
type deviceAuthResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// handleDeviceAuthorization is RFC 8628 §3.1: a client authenticated as
// at the token endpoint (§3.1: "the client MUST authenticate ... as
// described in Section 3.2.1 of [RFC6749]"; a public client sends its
// client_id) that may use the device grant gets a device code and a user
// code for the scopes it may have.
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	form, e := readForm(r)
	if e != nil {
		writeError(w, e, false)
		return
	}
	client, basic := s.authClient(w, r, form, audit.ActionDeviceAuthorize)
	if client == nil {
		return
	}
	if !s.limitToken(w, r, client) {
		return
	}
	scopes, resource, e := deviceRequest(form, client)
	if e == nil && !client.Allows(GrantDeviceCode) {
		// Deny by default: only clients that list the grant may start it.
		e = oerr(ErrUnauthorizedClient, "the client may not use the device authorization grant")
	}
	var aud []string
	if e == nil {
		aud, e = s.audienceFor(client, resource)
	}
	if e != nil {
		s.audit(r, audit.Event{Actor: "client:" + client.ID, Action: audit.ActionDeviceAuthorize, Target: "client:" + client.ID,
			Outcome: audit.OutcomeDenied, Reason: e.Code})
		writeError(w, e, basic)
		return
	}
	resp, d, e := s.newDevice(r, client, scopes, aud)
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	if err := s.mustAudit(r, audit.Event{Actor: "client:" + client.ID, Action: audit.ActionDeviceAuthorize, Target: "client:" + client.ID,
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"scope": scopeString(scopes), "user_code": s.opts.Audit.Pseudonymize(d.UserCode)}}); err != nil {
		s.fail(w, r, serverError(err), basic)
		return
	}
	s.chargeToken(r, client)
	writeJSON(w, http.StatusOK, resp)
}

// deviceRequest reads the scope (RFC 8628 §3.1) and resource (RFC 8707)
// of a device authorization request, each scope one the client may have.
func deviceRequest(form url.Values, c *Client) ([]string, string, *Error) {
	scope, e := single(form, "scope")
	if e != nil {
		return nil, "", e
	}
	scopes, e := parseScope(scope)
	if e != nil {
		return nil, "", e
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return nil, "", oerr(ErrInvalidScope, "the client may not request scope %q", clip(sc))
		}
	}
	if len(form["resource"]) > 1 {
		return nil, "", oerr(ErrInvalidTarget, "request one resource at a time")
	}
	resource, e := single(form, "resource")
	return scopes, resource, e
}

// maxUserCodeDraws bounds the retries when a drawn user code is live
// already (with 20^8 codes, even a million live ones collide with
// probability 4e-5 per draw).
const maxUserCodeDraws = 4

// newDevice stores a new pending device request and returns the answer.
func (s *Server) newDevice(r *http.Request, c *Client, scopes, aud []string) (*deviceAuthResponse, *DeviceCode, *Error) {
	// 256 random bits (RFC 8628 §5.2 asks for a high-entropy device_code;
	// the floor is 128), stored only as its SHA-256.
	code, err := randomToken(s.rand, 32)
	if err != nil {
		return nil, nil, serverError(err)
	}
	now := s.now().UTC()
	d := &DeviceCode{Hash: hashToken(code), ClientID: c.ID, Scopes: scopes, Audience: aud, CreatedAt: now,
		ExpiresAt: now.Add(DeviceCodeTTL), Status: DevicePending, Interval: DeviceInterval}
	for i := 0; ; i++ {
		if d.UserCode, err = newUserCode(s.rand); err != nil {
			return nil, nil, serverError(err)
		}
		err = s.deviceSaves.SaveDevice(r.Context(), d)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || i+1 == maxUserCodeDraws {
			return nil, nil, serverError(err)
		}
	}
	shown := displayUserCode(d.UserCode)
	verify := s.opts.Issuer + PathDevice
	return &deviceAuthResponse{
		DeviceCode: code, UserCode: shown, VerificationURI: verify,
		VerificationURIComplete: verify + "?" + url.Values{"user_code": {shown}}.Encode(),
		ExpiresIn:               int64(DeviceCodeTTL / time.Second), Interval: int64(DeviceInterval / time.Second),
	}, d, nil
}
