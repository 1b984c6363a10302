package oauth_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestTokenUnknownGrantType: through the endpoint, a grant type without a
// handler is a 400 unsupported_grant_type with the same description for a
// confidential and a public client, no challenge and no caching.
func TestTokenUnknownGrantType(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct {
		name     string
		form     url.Values
		id, pass string
	}{
		{"reject/confidential-jwt-bearer", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}}, svcID, svcSecret},
		{"reject/public-token-exchange", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "client_id": {webID}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, h := e.tokenRequest(tc.form, tc.id, tc.pass)
			wantOAuthError(t, st, body, http.StatusBadRequest, "unsupported_grant_type")
			if got := str(body, "error_description"); got != "the grant type is not supported" {
				t.Errorf("error_description = %q", got)
			}
			if h.Get("WWW-Authenticate") != "" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", h)
			}
		})
	}
}
