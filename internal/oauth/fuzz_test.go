package oauth

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
)

// FuzzAuthorizeRequest: any query string parses without panicking; an
// accepted request has a client_id and redirect_uri, at most maxScopes
// valid scopes, and bounded fields; a non-redirectable error never comes
// with a usable client_id/redirect_uri pair.
func FuzzAuthorizeRequest(f *testing.F) {
	f.Add("client_id=c&redirect_uri=https%3A%2F%2Fa.example%2Fcb&response_type=code&code_challenge=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&code_challenge_method=S256&state=s&scope=openid+profile&nonce=n")
	f.Add("client_id=c&client_id=d&redirect_uri=x")
	f.Add("client_id=c&redirect_uri=x&prompt=none+login&max_age=-3")
	f.Add("client_id=%00&redirect_uri=%ff&scope=%22")
	f.Add("resource=a&resource=b&client_id=c&redirect_uri=r")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, perr := ParseAuthorizeRequest(v)
		if perr != nil {
			if perr.Code == "" || perr.Description == "" {
				t.Fatalf("error without code or description: %+v", perr.Error)
			}
			return
		}
		if r.ClientID == "" || r.RedirectURI == "" {
			t.Fatal("accepted without client_id or redirect_uri")
		}
		if len(r.Scopes) > maxScopes || len(r.State) > maxParamLen || len(r.Nonce) > maxNonceLen {
			t.Fatal("bounds not enforced")
		}
		for _, s := range r.Scopes {
			if !validScopeToken(s) {
				t.Fatalf("invalid scope %q accepted", s)
			}
		}
	})
}

// FuzzTokenRequest: any form parses without panicking; duplicates are
// never accepted; an accepted request has a grant type.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fa%2Fcb&code_verifier=" + "a0123456789012345678901234567890123456789012")
	f.Add("grant_type=refresh_token&refresh_token=x&scope=a+b")
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b&resource=r&resource=s")
	f.Add("grant_type=a&grant_type=b")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, e := ParseTokenRequest(v)
		if e != nil {
			if e.Code == "" {
				t.Fatal("error without code")
			}
			return
		}
		if r.GrantType == "" {
			t.Fatal("accepted without grant_type")
		}
		for k, vals := range v {
			if len(vals) > 1 && (k == "grant_type" || k == "code" || k == "refresh_token" || k == "code_verifier" || k == "client_secret") {
				t.Fatalf("duplicate %s accepted", k)
			}
		}
	})
}

// FuzzMatchRedirectURI: a match is either an exact registered URI or a
// loopback URI differing only in port; never another host or path.
func FuzzMatchRedirectURI(f *testing.F) {
	f.Add("http://127.0.0.1:9999/callback", "http://127.0.0.1:1/callback")
	f.Add("https://a.example/cb", "https://a.example/cb/../x")
	f.Add("http://[::1]/cb", "http://[::1]:80@evil/cb")
	f.Fuzz(func(t *testing.T, reg, req string) {
		if config.CheckRedirectURI(reg) != nil {
			return
		}
		c := &Client{RedirectURIs: []string{reg}}
		got := c.MatchRedirectURI(req)
		if got == "" || got == reg {
			return
		}
		ru, err1 := url.Parse(reg)
		qu, err2 := url.Parse(req)
		if err1 != nil || err2 != nil {
			t.Fatalf("matched an unparsable URI %q for %q", req, reg)
		}
		if ru.Scheme != "http" || qu.Scheme != "http" || ru.Hostname() != qu.Hostname() || ru.EscapedPath() != qu.EscapedPath() ||
			ru.RawQuery != qu.RawQuery || qu.User != nil || qu.Fragment != "" {
			t.Fatalf("%q matched registered %q", req, reg)
		}
	})
}

// FuzzParseLoginProof: whatever an attacker puts in rampart_login, the
// parser never panics, and what it accepts is exactly what loginProof
// writes (a decimal time and a 32-byte MAC) and round-trips.
func FuzzParseLoginProof(f *testing.F) {
	f.Add("1796175590000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("-1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("1.")
	f.Add(".")
	f.Add("")
	f.Add("99999999999999999999.AAAA")
	f.Fuzz(func(t *testing.T, p string) {
		at, mac, ok := parseLoginProof(p)
		if !ok {
			return
		}
		if len(mac) != 32 {
			t.Fatalf("accepted a %d-byte MAC from %q", len(mac), p)
		}
		back := strconv.FormatInt(at, 10) + "." + base64.RawURLEncoding.EncodeToString(mac)
		if at2, mac2, ok2 := parseLoginProof(back); !ok2 || at2 != at || string(mac2) != string(mac) {
			t.Fatalf("%q does not round-trip", p)
		}
	})
}

// FuzzParseLogoutRequest: any query parses without panicking; an accepted
// request has every parameter at most once and within its bound, and a
// printable state, and survives its own encoding unchanged.
func FuzzParseLogoutRequest(f *testing.F) {
	f.Add("id_token_hint=a.b.c&client_id=web&post_logout_redirect_uri=https%3A%2F%2Fa.example%2Fbye&state=xyz")
	f.Add("post_logout_redirect_uri=a&post_logout_redirect_uri=b")
	f.Add("state=%00%ff&client_id=%22")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, err := ParseLogoutRequest(v)
		if err != nil {
			return
		}
		if len(r.IDTokenHint) > maxIDTokenHint || len(r.State) > maxLogoutState || len(r.ClientID) > 256 || len(r.PostLogoutRedirectURI) > 2000 {
			t.Fatalf("unbounded field in %+v", r)
		}
		for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
			if len(v[k]) > 1 {
				t.Fatalf("repeated %s accepted", k)
			}
		}
		back, err := url.ParseQuery(r.encode())
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseLogoutRequest(back)
		if err != nil || *r2 != *r {
			t.Fatalf("round trip: %+v -> %+v (%v)", r, r2, err)
		}
	})
}
