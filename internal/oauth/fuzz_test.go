package oauth

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"testing"
	"time"

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
	f.Add("client_id=c&redirect_uri=r&dpop_jkt=0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
	f.Add("client_id=c&redirect_uri=r&dpop_jkt=0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4=")
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
		if r.DPoPJKT != "" && !validJKT(r.DPoPJKT) {
			t.Fatalf("dpop_jkt %q accepted", r.DPoPJKT)
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

// FuzzPARForm: any pushed form either is refused with an error, or yields
// parameters without client credentials or request_uri whose client_id is
// exactly the authenticated client's, and which the authorization
// request parser reads without panicking, as the authorization endpoint
// will when the request_uri is used.
func FuzzPARForm(f *testing.F) {
	f.Add("response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa.example%2Fcb&code_challenge=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&code_challenge_method=S256")
	f.Add("client_id=app&client_id=app")
	f.Add("client_id=other&redirect_uri=x")
	f.Add("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax&client_id=app")
	f.Add("client_secret=s&client_assertion=a.b.c&client_assertion_type=x&scope=openid")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		params, e := pushedParams(form, "app")
		if e != nil {
			if e.Code == "" || e.Description == "" {
				t.Fatalf("error without code or description: %+v", e)
			}
			return
		}
		for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type", "request_uri"} {
			if params.Has(k) {
				t.Fatalf("%s kept in the stored request", k)
			}
		}
		if len(params["client_id"]) != 1 || params.Get("client_id") != "app" {
			t.Fatalf("client_id %q, want the authenticated client", params["client_id"])
		}
		again, err := url.ParseQuery(params.Encode())
		if err != nil || again.Encode() != params.Encode() {
			t.Fatalf("the stored form does not round-trip: %v", err)
		}
		_, _ = ParseAuthorizeRequest(again)
	})
}

// FuzzAssertionIssuer: any string is read without panicking; an issuer is
// returned only from a bounded three-part JWS, and is a valid client id.
func FuzzAssertionIssuer(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJhcHAifQ.c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJ9.eyJpc3MiOiJhcHAiLCJpc3MiOiJiIn0.x")
	f.Fuzz(func(t *testing.T, jws string) {
		iss, ok := assertionIssuer(jws)
		if !ok {
			return
		}
		if !config.ValidClientID(iss) || len(jws) > maxAssertionBytes {
			t.Fatalf("accepted issuer %q from %d bytes", iss, len(jws))
		}
	})
}

// FuzzPendingLogin: any pending sign-in text, CSRF token and return value
// opens without panicking, and only the exact token minted for that CSRF
// token and return value is accepted: no edit of it (user, kind, use
// counter, time, MAC, encoding) passes.
func FuzzPendingLogin(f *testing.F) {
	s := &Server{pendingKey: pendingKeyFrom(make([]byte, 32)), now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	valid := s.mintPending(pendingLogin{User: "u1", Kind: pendingOTP, Uses: 3}, "csrf", "ret")
	f.Add(valid, "csrf", "ret")
	f.Add(valid+"A", "csrf", "ret")
	f.Add(valid, "csrf2", "ret")
	f.Add("e30.AAAA", "", "")
	f.Add(".", "", "")
	f.Fuzz(func(t *testing.T, tok, csrf, ret string) {
		p, ok := s.openPending(tok, csrf, ret, pendingOTP)
		if !ok {
			return
		}
		if tok != valid || csrf != "csrf" || ret != "ret" || p.User != "u1" || p.Uses != 3 {
			t.Fatalf("accepted %q for %q %q: %+v", tok, csrf, ret, p)
		}
	})
}

// BenchmarkOpenPending is the check of every second-factor post.
func BenchmarkOpenPending(b *testing.B) {
	s := &Server{pendingKey: pendingKeyFrom(make([]byte, 32)), now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	tok := s.mintPending(pendingLogin{User: "u1", Kind: pendingOTP, Uses: 3}, "csrf", "ret")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.openPending(tok, "csrf", "ret", pendingOTP); !ok {
			b.Fatal("refused")
		}
	}
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
