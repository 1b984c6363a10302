package oauth

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/keys"
)

// noSigner has no active key (the discovery document then names ES256).
type noSigner struct{}

func (noSigner) Signer() (keys.ActiveKey, error) { return keys.ActiveKey{}, errors.New("no key") }

// grantTestServer is a Server with just what newGrantHandlers and the
// discovery document read.
func grantTestServer() *Server {
	s := &Server{
		opts: Options{Issuer: "https://issuer.example", Signer: noSigner{},
			Clients: NewRegistry(nil, nil, make([]byte, 32), nil)},
		now: time.Now, rand: rand.Reader, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s.grants = newGrantHandlers(s)
	s.proofs, _, _ = newProofChecker(nil, nil, s.now)
	return s
}

// TestGrantRegistry: the token endpoint answers exactly the grant types
// discovery advertises (RFC 8414 §2 grant_types_supported), each with its
// own handler.
func TestGrantRegistry(t *testing.T) {
	s := grantTestServer()
	var meta struct {
		Grants []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(s.metadata(), &meta); err != nil {
		t.Fatal(err)
	}
	registered := slices.Sorted(maps.Keys(s.grants))
	if !slices.Equal(registered, slices.Sorted(slices.Values(meta.Grants))) {
		t.Fatalf("registered grant types %v, discovery grant_types_supported %v", registered, meta.Grants)
	}
	want := map[string]grantHandler{
		GrantAuthorizationCode: (*codeGrant)(nil),
		GrantClientCredentials: (*clientCredentialsGrant)(nil),
		GrantRefreshToken:      (*refreshGrant)(nil),
		GrantDeviceCode:        (*deviceGrant)(nil),
	}
	for typ, h := range want {
		if got := reflect.TypeOf(s.grants[typ]); got != reflect.TypeOf(h) {
			t.Errorf("grant_type %s is handled by %v, want %v", typ, got, reflect.TypeOf(h))
		}
	}
}

// TestGrantUnknownType: a grant type with no handler is
// unsupported_grant_type (RFC 6749 §5.2), whatever handlers exist.
func TestGrantUnknownType(t *testing.T) {
	s := grantTestServer()
	r := httptest.NewRequest(http.MethodPost, PathToken, nil)
	c := &Client{ID: "c", GrantTypes: []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken, "password"}}
	for _, typ := range []string{"password", "implicit", "urn:ietf:params:oauth:grant-type:token-exchange", "Client_Credentials", "client_credentials "} {
		resp, e := s.grant(r, c, &TokenRequest{GrantType: typ})
		if resp != nil || e == nil || e.Code != ErrUnsupportedGrantType || e.Description != "the grant type is not supported" || e.Status != http.StatusBadRequest {
			t.Errorf("grant_type %q: got %v, %+v", typ, resp, e)
		}
	}
}
