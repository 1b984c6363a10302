package oauth

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
)

func TestMatchRedirectURI(t *testing.T) {
	c := &Client{RedirectURIs: []string{
		"https://app.example.com/callback",
		"http://127.0.0.1:9999/callback",
		"http://[::1]/cb",
		"com.example.app:/oauth",
		"https://app.example.com/cb?tenant=a",
	}}
	cases := []struct {
		name, uri string
		ok        bool
	}{
		{"accept/exact-https", "https://app.example.com/callback", true},
		{"accept/exact-with-query", "https://app.example.com/cb?tenant=a", true},
		{"accept/loopback-other-port", "http://127.0.0.1:51234/callback", true},
		{"accept/loopback-same-port", "http://127.0.0.1:9999/callback", true},
		{"accept/loopback-v6-port", "http://[::1]:4000/cb", true},
		{"accept/private-use-scheme", "com.example.app:/oauth", true},
		{"reject/path-traversal", "https://app.example.com/callback/../admin", false},
		{"reject/path-suffix", "https://app.example.com/callback/x", false},
		{"reject/path-prefix", "https://app.example.com/callbac", false},
		{"reject/extra-query", "https://app.example.com/callback?x=1", false},
		{"reject/changed-query", "https://app.example.com/cb?tenant=b", false},
		{"reject/other-host", "https://evil.example.com/callback", false},
		{"reject/look-alike-host", "https://app.example.com.evil.com/callback", false},
		{"reject/userinfo-trick", "https://app.example.com@evil.com/callback", false},
		{"reject/other-port-non-loopback", "https://app.example.com:8443/callback", false},
		{"reject/http-downgrade", "http://app.example.com/callback", false},
		{"reject/fragment", "https://app.example.com/callback#x", false},
		{"reject/case-changed-host", "https://APP.example.com/callback", false},
		{"reject/trailing-slash", "https://app.example.com/callback/", false},
		{"reject/encoded-path", "https://app.example.com/%63allback", false},
		{"reject/loopback-other-path", "http://127.0.0.1:51234/other", false},
		{"reject/loopback-host-suffix", "http://127.0.0.1.evil.com:80/callback", false},
		{"reject/loopback-userinfo", "http://127.0.0.1:80@evil.com/callback", false},
		{"reject/loopback-port-zero", "http://127.0.0.1:0/callback", false},
		{"reject/loopback-port-too-big", "http://127.0.0.1:65536/callback", false},
		{"reject/loopback-leading-zero-port", "http://127.0.0.1:080/callback", false},
		{"reject/loopback-https-scheme", "https://127.0.0.1:9999/callback", false},
		{"reject/loopback-extra-query", "http://127.0.0.1:4000/callback?x=1", false},
		{"reject/localhost-for-ip", "http://localhost:9999/callback", false},
		{"reject/empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := c.MatchRedirectURI(tc.uri)
			if (got != "") != tc.ok {
				t.Fatalf("MatchRedirectURI(%q) = %q, want match %v", tc.uri, got, tc.ok)
			}
			if got != "" && got != tc.uri {
				t.Fatalf("matched %q but returned %q", tc.uri, got)
			}
		})
	}
}

func TestCheckRedirectURI(t *testing.T) {
	for _, u := range []string{"https://a.example/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost:3000/cb", "com.example.app:/cb"} {
		if err := config.CheckRedirectURI(u); err != nil {
			t.Errorf("accept/%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://a.example/cb", "https://a.example/cb#f", "https://*.example/cb", "javascript:alert(1)", "myapp:/cb", "/relative", "https://u:p@a.example/cb", "data:text/html,x"} {
		if err := config.CheckRedirectURI(u); err == nil {
			t.Errorf("reject/%s: accepted", u)
		}
	}
}

func TestParseAuthorizeRequest(t *testing.T) {
	base := func() url.Values {
		return url.Values{"client_id": {"c"}, "redirect_uri": {"https://a.example/cb"}, "response_type": {"code"},
			"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}, "state": {"s"}, "scope": {"openid  profile openid"}}
	}
	r, perr := ParseAuthorizeRequest(base())
	if perr != nil {
		t.Fatal(perr)
	}
	if strings.Join(r.Scopes, ",") != "openid,profile" || r.MaxAge != -1 || r.State != "s" {
		t.Fatalf("parsed %+v", r)
	}
	cases := []struct {
		name         string
		mod          func(url.Values)
		code         string
		redirectable bool
	}{
		{"reject/no-client-id", func(v url.Values) { v.Del("client_id") }, ErrInvalidRequest, false},
		{"reject/duplicate-client-id", func(v url.Values) { v.Add("client_id", "d") }, ErrInvalidRequest, false},
		{"reject/no-redirect-uri", func(v url.Values) { v.Del("redirect_uri") }, ErrInvalidRequest, false},
		{"reject/duplicate-redirect-uri", func(v url.Values) { v.Add("redirect_uri", "https://evil.example/") }, ErrInvalidRequest, false},
		{"reject/duplicate-state", func(v url.Values) { v.Add("state", "t") }, ErrInvalidRequest, true},
		{"reject/duplicate-challenge", func(v url.Values) { v.Add("code_challenge", "x") }, ErrInvalidRequest, true},
		{"reject/bad-scope-char", func(v url.Values) { v.Set("scope", "a\"b") }, ErrInvalidScope, true},
		{"reject/control-char", func(v url.Values) { v.Set("state", "a\x00b") }, ErrInvalidRequest, true},
		{"reject/long-state", func(v url.Values) { v.Set("state", strings.Repeat("s", maxParamLen+1)) }, ErrInvalidRequest, true},
		{"reject/negative-max-age", func(v url.Values) { v.Set("max_age", "-1") }, ErrInvalidRequest, true},
		{"reject/prompt-none-and-login", func(v url.Values) { v.Set("prompt", "none login") }, ErrInvalidRequest, true},
		{"reject/two-resources", func(v url.Values) { v["resource"] = []string{"https://a", "https://b"} }, ErrInvalidTarget, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := base()
			tc.mod(v)
			_, perr := ParseAuthorizeRequest(v)
			if perr == nil {
				t.Fatal("accepted")
			}
			if perr.Code != tc.code || perr.Redirectable != tc.redirectable {
				t.Fatalf("got %s redirectable=%v, want %s %v", perr.Code, perr.Redirectable, tc.code, tc.redirectable)
			}
		})
	}
}

func TestParseTokenRequest(t *testing.T) {
	if _, e := ParseTokenRequest(url.Values{}); e == nil || e.Code != ErrInvalidRequest {
		t.Fatalf("missing grant_type: %v", e)
	}
	if _, e := ParseTokenRequest(url.Values{"grant_type": {"a", "b"}}); e == nil {
		t.Fatal("duplicate grant_type accepted")
	}
	if _, e := ParseTokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x", "y"}}); e == nil {
		t.Fatal("duplicate code accepted")
	}
	r, e := ParseTokenRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}, "resource": {"https://api"}})
	if e != nil || !r.ScopeGiven || len(r.Scopes) != 2 || r.Resource != "https://api" {
		t.Fatalf("%+v %v", r, e)
	}
}

func TestVerifierAndChallenge(t *testing.T) {
	// RFC 7636 Appendix B.
	if !s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") {
		t.Fatal("RFC 7636 appendix B vector failed")
	}
	if s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") {
		t.Fatal("wrong verifier accepted")
	}
	if validVerifier(strings.Repeat("a", 42)) || validVerifier(strings.Repeat("a", 129)) || validVerifier(strings.Repeat("a", 42)+"+") {
		t.Fatal("bad verifier syntax accepted")
	}
	if validChallenge(strings.Repeat("a", 42)+"=") || !validChallenge(strings.Repeat("a", 43)) {
		t.Fatal("challenge syntax")
	}
}
