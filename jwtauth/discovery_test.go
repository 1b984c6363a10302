package jwtauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestDiscoverJWKSURL(t *testing.T) {
	const (
		oidc  = "/.well-known/openid-configuration"
		as    = "/.well-known/oauth-authorization-server"
		jwksU = "https://auth.example.com/jwks.json"
	)
	type doc = map[string]string
	tests := []struct {
		name string
		path string // issuer path appended to the server URL
		// serve maps a request path to a body; absent paths answer 404.
		serve  func(issuer string) map[string]string
		status int // status of every served path (default 200)
		want   string
		errHas string
	}{
		{name: "accept/openid-configuration", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": jwksU}))}
		}, want: jwksU},
		{name: "accept/loopback-http-jwks-uri", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": "http://127.0.0.1:9/jwks"}))}
		}, want: "http://127.0.0.1:9/jwks"},
		{name: "accept/rfc8414-fallback-on-404", serve: func(iss string) map[string]string {
			return map[string]string{as: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": jwksU}))}
		}, want: jwksU},
		{name: "accept/issuer-with-path", path: "/tenant1", serve: func(iss string) map[string]string {
			return map[string]string{"/tenant1" + oidc: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": jwksU}))}
		}, want: jwksU},
		{name: "accept/rfc8414-path-insertion", path: "/tenant1", serve: func(iss string) map[string]string {
			return map[string]string{as + "/tenant1": string(mustJSON(t, doc{"issuer": iss, "jwks_uri": jwksU}))}
		}, want: jwksU},
		{name: "reject/issuer-mismatch", serve: func(string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": "https://evil.example", "jwks_uri": jwksU}))}
		}, errHas: "differs"},
		{name: "reject/issuer-trailing-slash", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": iss + "/", "jwks_uri": jwksU}))}
		}, errHas: "differs"},
		{name: "reject/issuer-case-differs", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": strings.ToUpper(iss), "jwks_uri": jwksU}))}
		}, errHas: "differs"},
		{name: "reject/issuer-missing", serve: func(string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"jwks_uri": jwksU}))}
		}, errHas: "no issuer"},
		{name: "reject/issuer-not-string", serve: func(string) map[string]string {
			return map[string]string{oidc: `{"issuer":1,"jwks_uri":"` + jwksU + `"}`}
		}, errHas: "strings"},
		{name: "reject/jwks-uri-http-non-loopback", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": "http://auth.example.com/jwks"}))}
		}, errHas: "https"},
		{name: "reject/jwks-uri-missing", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": iss}))}
		}, errHas: "no jwks_uri"},
		{name: "reject/jwks-uri-relative", serve: func(iss string) map[string]string {
			return map[string]string{oidc: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": "/jwks"}))}
		}, errHas: "host"},
		{name: "reject/duplicate-member", serve: func(iss string) map[string]string {
			return map[string]string{oidc: `{"issuer":"` + iss + `","jwks_uri":"https://evil.example/j","jwks_uri":"` + jwksU + `"}`}
		}, errHas: "duplicate"},
		{name: "reject/not-an-object", serve: func(string) map[string]string {
			return map[string]string{oidc: `["x"]`}
		}, errHas: "object"},
		{name: "reject/oversize", serve: func(iss string) map[string]string {
			return map[string]string{oidc: `{"issuer":"` + iss + `","jwks_uri":"` + jwksU + `","pad":"` + strings.Repeat("x", DefaultJWKSMaxBodyBytes) + `"}`}
		}, errHas: "larger"},
		{name: "reject/both-404", serve: func(string) map[string]string { return nil }, errHas: "404"},
		{name: "reject/500-no-fallback", status: http.StatusInternalServerError, serve: func(iss string) map[string]string {
			return map[string]string{oidc: "oops", as: string(mustJSON(t, doc{"issuer": iss, "jwks_uri": jwksU}))}
		}, errHas: "500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var routes atomic.Pointer[map[string]string]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := (*routes.Load())[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			issuer := srv.URL + tc.path
			m := tc.serve(issuer)
			routes.Store(&m)
			got, err := DiscoverJWKSURL(context.Background(), nil, issuer)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.errHas)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDiscoverJWKSURLIssuerChecks(t *testing.T) {
	tests := []struct{ name, issuer string }{
		{"reject/http-non-loopback", "http://auth.example.com"},
		{"reject/query", "https://auth.example.com?tenant=1"},
		{"reject/fragment", "https://auth.example.com#x"},
		{"reject/credentials", "https://u:p@auth.example.com"},
		{"reject/relative", "auth.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DiscoverJWKSURL(context.Background(), nil, tc.issuer); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestDiscoverJWKSURLRedirectOtherHost(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		otherHits.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	_, err := DiscoverJWKSURL(context.Background(), http.DefaultClient, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("redirect to another host: %v", err)
	}
	if otherHits.Load() != 0 {
		t.Fatal("the other host was contacted")
	}
	if http.DefaultClient.CheckRedirect != nil {
		t.Fatal("the caller's client was modified")
	}
}

// FuzzJWKSURIFromMetadata: the metadata parser never panics and returns
// only a jwks_uri that passes the endpoint rules, from a document whose
// issuer matches.
func FuzzJWKSURIFromMetadata(f *testing.F) {
	const iss = "https://auth.example.com"
	f.Add([]byte(`{"issuer":"https://auth.example.com","jwks_uri":"https://auth.example.com/jwks"}`))
	f.Add([]byte(`{"issuer":"https://auth.example.com","jwks_uri":"http://10.0.0.1/jwks"}`))
	f.Add([]byte(`{"issuer":"https://auth.example.com","issuer":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := jwksURIFromMetadata(body, iss)
		if err != nil {
			return
		}
		if _, err := checkEndpoint(u); err != nil {
			t.Fatalf("returned %q: %v", u, err)
		}
		if !strings.Contains(string(body), iss) {
			t.Fatal("issuer not in the document")
		}
	})
}
