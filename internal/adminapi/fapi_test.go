package adminapi_test

import (
	"net/http"
	"testing"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminapi"
)

// TestFAPIClientThroughAPI: POST /clients with profile fapi2 registers a
// private_key_jwt client without a secret, shown with its profile; a
// fapi2 request that contradicts the profile (loopback http redirect, a
// secret method) is refused with 400 before anything is stored.
func TestFAPIClientThroughAPI(t *testing.T) {
	f := newFixture(t, "sqlite")
	req := func(extra map[string]any) map[string]any {
		m := map[string]any{"client_id": "bank", "profile": "fapi2", "grant_types": []string{"authorization_code", "refresh_token"},
			"redirect_uris": []string{"https://bank.example.com/cb"}, "scopes": []string{"openid"}, "jwks_uri": "https://bank.example.com/jwks.json"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	f.json(http.MethodPost, adminapi.Prefix+"/clients", req(map[string]any{"redirect_uris": []string{"http://127.0.0.1:8080/cb"}}), http.StatusBadRequest, nil)
	f.json(http.MethodPost, adminapi.Prefix+"/clients", req(map[string]any{"token_endpoint_auth_method": "client_secret_basic"}), http.StatusBadRequest, nil)
	f.json(http.MethodGet, adminapi.Prefix+"/clients/bank", nil, http.StatusNotFound, nil)
	var created admin.ClientView
	f.json(http.MethodPost, adminapi.Prefix+"/clients", req(nil), http.StatusCreated, &created)
	if created.Profile != "fapi2" || created.Secret != "" || created.AuthMethod != "private_key_jwt" {
		t.Fatalf("created %+v", created)
	}
	var got admin.ClientView
	f.json(http.MethodGet, adminapi.Prefix+"/clients/bank", nil, http.StatusOK, &got)
	if got.Profile != "fapi2" {
		t.Fatalf("show %+v", got)
	}
}
