package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/rampart-auth/rampart/internal/httpx"
)

// RFC 6749 §4.1.2.1 / §5.2, OIDC Core §3.1.2.6, RFC 8707 §2, RFC 7009 §2.2.1
// error codes.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrInvalidTarget           = "invalid_target"
	ErrLoginRequired           = "login_required"
	ErrConsentRequired         = "consent_required"
	ErrRequestNotSupported     = "request_not_supported"
	ErrRequestURINotSupported  = "request_uri_not_supported"
	ErrInvalidRequestURI       = "invalid_request_uri" // RFC 9101 §7 / RFC 9126 §4
	ErrUnsupportedTokenType    = "unsupported_token_type"
	ErrInvalidToken            = "invalid_token"
	ErrInsufficientScope       = "insufficient_scope"
	// RFC 9449 §5 and §8.
	ErrInvalidDPoPProof = "invalid_dpop_proof"
	ErrUseDPoPNonce     = "use_dpop_nonce"
)

// Error is an OAuth error answer: a code and a description safe to show the
// client, and an internal cause that only the log sees.
type Error struct {
	Code        string
	Description string
	Status      int
	Cause       error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("oauth: %s: %s: %v", e.Code, e.Description, e.Cause)
	}
	return "oauth: " + e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

func oerr(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func serverError(cause error) *Error {
	return &Error{Code: ErrServerError, Description: "the server could not complete the request", Status: http.StatusInternalServerError, Cause: cause}
}

// writeJSON writes a JSON body with no-store caching (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"error":"server_error"}`), http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	httpx.SetNoStore(w)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers an RFC 6749 §5.2 JSON error. An invalid_client that
// came with HTTP Basic gets 401 and a WWW-Authenticate challenge.
func writeError(w http.ResponseWriter, e *Error, basic bool) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if e.Code == ErrInvalidClient {
		status = http.StatusUnauthorized
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="rampart", charset="UTF-8"`)
		}
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	writeJSON(w, status, body)
}
