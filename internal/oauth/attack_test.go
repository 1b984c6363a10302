package oauth_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// codeFor signs in through webID (public, no consent) or otherID and
// returns a fresh code, its verifier and the browser.
func (e *env) codeFor(t *testing.T, clientID, scope string) (string, string, *browser) {
	t.Helper()
	v, ch := pkce()
	b := e.browser()
	q := b.codeFrom(b.login(e.authorizeURL(clientID, e.callback, scope, "st", ch), userName, userPass))
	return q.Get("code"), v, b
}

func (e *env) exchange(code, verifier, clientID, secret string) (int, map[string]any) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.callback}, "code_verifier": {verifier}}
	if secret == "" {
		form.Set("client_id", clientID)
		clientID = ""
	}
	st, body, _ := e.tokenRequest(form, clientID, secret)
	return st, body
}

func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	_, body, _ := e.postJSON(oauth.PathIntrospect, url.Values{"token": {token}}, "introspector", otherSecret)
	return body
}

func (e *env) userinfoStatus(token string) int {
	req, _ := http.NewRequest(http.MethodGet, e.issuer+oauth.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func wantOAuthError(t *testing.T, status int, body map[string]any, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || str(body, "error") != code {
		t.Fatalf("got %d %v, want %d %s", status, body, wantStatus, code)
	}
	if _, ok := body["access_token"]; ok {
		t.Fatal("an error answer carries a token")
	}
}

// TestAttackCodeReplay: the second use of a code fails and revokes what
// the first use got (RFC 6749 §4.1.2).
func TestAttackCodeReplay(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		code, v, _ := e.codeFor(t, webID, "openid notes:read")
		st, first := e.exchange(code, v, webID, "")
		mustStatus(t, st, http.StatusOK, "first exchange", first)
		at := str(first, "access_token")
		if e.introspect(at)["active"] != true || e.userinfoStatus(at) != http.StatusOK {
			t.Fatal("the first access token should be active")
		}
		st, second := e.exchange(code, v, webID, "")
		wantOAuthError(t, st, second, http.StatusBadRequest, "invalid_grant")
		if e.introspect(at)["active"] != false {
			t.Fatal("access token from the replayed code is still active")
		}
		if e.userinfoStatus(at) != http.StatusUnauthorized {
			t.Fatal("userinfo accepts the access token from the replayed code")
		}
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(first, "refresh_token")}, "client_id": {webID}}, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		if len(e.events("oauth.code_replay")) != 1 {
			t.Fatal("code replay not audited")
		}
	})
}

// TestAttackPKCE: missing, plain and wrong-verifier PKCE all fail.
func TestAttackPKCE(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	b.login(e.authorizeURL(webID, e.callback, "openid", "st", func() string { _, c := pkce(); return c }()), userName, userPass)
	t.Run("reject/missing-code-challenge", func(t *testing.T) {
		q := b.codeFrom(b.get(e.authorizeURL(webID, e.callback, "openid", "st", "")))
		if q.Get("error") != "invalid_request" || q.Get("code") != "" || q.Get("state") != "st" || q.Get("iss") != e.issuer {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("reject/missing-pkce-confidential-client", func(t *testing.T) {
		q := b.codeFrom(b.get(e.authorizeURL(otherID, e.callback, "openid", "st", "")))
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("reject/plain-method", func(t *testing.T) {
		v, _ := pkce()
		q := b.codeFrom(b.get(e.authorizeURL(webID, e.callback, "openid", "st", v[:43], "code_challenge_method", "plain")))
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("reject/no-method", func(t *testing.T) {
		_, ch := pkce()
		q := b.codeFrom(b.get(e.authorizeURL(webID, e.callback, "openid", "st", ch, "code_challenge_method", "")))
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("reject/wrong-verifier", func(t *testing.T) {
		code, _, _ := e.codeFor(t, webID, "openid")
		other, _ := pkce()
		st, body := e.exchange(code, other, webID, "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("reject/missing-verifier", func(t *testing.T) {
		code, _, _ := e.codeFor(t, webID, "openid")
		st, body := e.exchange(code, "", webID, "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("reject/verifier-then-right-verifier", func(t *testing.T) {
		// A failed attempt spends the code: guessing is one try per code.
		code, v, _ := e.codeFor(t, webID, "openid")
		other, _ := pkce()
		e.exchange(code, other, webID, "")
		st, body := e.exchange(code, v, webID, "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
}

// TestAttackRedirectURI: an unregistered or look-alike redirect URI gets an
// error page and never a redirect (no open redirector).
func TestAttackRedirectURI(t *testing.T) {
	e := newEnv(t, "sqlite")
	cb, _ := url.Parse(e.callback)
	host, port := cb.Hostname(), cb.Port()
	cases := map[string]string{
		"reject/unregistered":          "https://evil.example/callback",
		"reject/path-traversal":        e.callback + "/../../evil",
		"reject/encoded-traversal":     e.callback + "/..%2f..%2fevil",
		"reject/extra-query":           e.callback + "?next=https://evil.example",
		"reject/extra-path":            e.callback + "x",
		"reject/fragment":              e.callback + "#x",
		"reject/other-host":            "http://localhost:" + port + "/callback",
		"reject/look-alike-host":       "http://" + host + ".evil.example:" + port + "/callback",
		"reject/userinfo":              "http://" + host + ":" + port + "@evil.example/callback",
		"reject/https-other-port":      "https://" + host + ":" + port + "/callback",
		"reject/other-port-non-loopbk": "https://app.example.com:8443/callback",
		"reject/javascript":            "javascript:alert(1)",
		"reject/missing":               "",
	}
	for name, redirect := range cases {
		t.Run(name, func(t *testing.T) {
			_, ch := pkce()
			p := e.browser().get(e.authorizeURL(webID, redirect, "openid", "st", ch))
			if p.status != http.StatusBadRequest || p.location != "" {
				t.Fatalf("got %d location %q", p.status, p.location)
			}
			if !strings.Contains(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, "redirect") {
				t.Fatalf("no error page: %.200s", p.body)
			}
		})
	}
	t.Run("reject/unknown-client", func(t *testing.T) {
		_, ch := pkce()
		p := e.browser().get(e.authorizeURL("nobody", e.callback, "openid", "st", ch))
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Fatalf("got %d location %q", p.status, p.location)
		}
	})
	t.Run("reject/redirect-uri-mismatch-at-token", func(t *testing.T) {
		code, v, _ := e.codeFor(t, webID, "openid")
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:9999/native"},
			"code_verifier": {v}, "client_id": {webID}}, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
}

// TestAttackAuthorizeRequest: response_type=token, scope escalation and
// unknown scopes are refused by redirect with state and iss.
func TestAttackAuthorizeRequest(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	_, ch := pkce()
	b.login(e.authorizeURL(webID, e.callback, "openid", "st", ch), userName, userPass)
	cases := []struct {
		name, client, scope string
		extra               []string
		want                string
	}{
		{"reject/response-type-token", webID, "openid", []string{"response_type", "token"}, "unsupported_response_type"},
		{"reject/response-type-code-token", webID, "openid", []string{"response_type", "code token"}, "unsupported_response_type"},
		{"reject/response-type-id-token", webID, "openid", []string{"response_type", "id_token"}, "unsupported_response_type"},
		{"reject/scope-escalation", webID, "openid notes:write", nil, "invalid_scope"},
		{"reject/unknown-scope", webID, "admin", nil, "invalid_scope"},
		{"reject/client-not-allowed-code", svcID, "reports:read", nil, ""},
		{"reject/resource-not-allowed", webID, "openid", []string{"resource", "https://evil.example"}, "invalid_target"},
		{"reject/request-object", webID, "openid", []string{"request", "eyJ.x.y"}, "request_not_supported"},
		{"reject/response-mode-fragment", webID, "openid", []string{"response_mode", "fragment"}, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ch := pkce()
			p := b.get(e.authorizeURL(tc.client, e.callback, tc.scope, "st", ch, tc.extra...))
			if tc.want == "" { // svcID has no redirect URIs: error page
				if p.status != http.StatusBadRequest || p.location != "" {
					t.Fatalf("got %d %q", p.status, p.location)
				}
				return
			}
			q := b.codeFrom(p)
			if q.Get("error") != tc.want || q.Get("code") != "" || q.Get("state") != "st" || q.Get("iss") != e.issuer {
				t.Fatalf("got %v, want error %s", q, tc.want)
			}
		})
	}
	t.Run("reject/prompt-none-without-session", func(t *testing.T) {
		_, ch := pkce()
		q := e.browser().codeFrom(e.browser().get(e.authorizeURL(webID, e.callback, "openid", "st", ch, "prompt", "none")))
		if q.Get("error") != "login_required" {
			t.Fatalf("got %v", q)
		}
	})
}

// TestAttackCrossClientCode: a code issued to one client cannot be redeemed
// by another, and the attempt spends it.
func TestAttackCrossClientCode(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		code, v, _ := e.codeFor(t, webID, "openid")
		st, body := e.exchange(code, v, otherID, otherSecret)
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		st, body = e.exchange(code, v, webID, "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	})
}

// TestAttackRefreshReuse: presenting a rotated refresh token revokes the
// whole family, including the thief's and the owner's newest tokens.
func TestAttackRefreshReuse(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		code, v, _ := e.codeFor(t, webID, "openid notes:read")
		_, first := e.exchange(code, v, webID, "")
		refresh := func(rt string) (int, map[string]any) {
			st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {webID}}, "", "")
			return st, body
		}
		st, second := refresh(str(first, "refresh_token"))
		mustStatus(t, st, http.StatusOK, "legitimate refresh", second)
		// The attacker replays the first (already rotated) refresh token.
		st, body := refresh(str(first, "refresh_token"))
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		// The family is gone: the newest refresh token and access token too.
		st, body = refresh(str(second, "refresh_token"))
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		if e.introspect(str(second, "access_token"))["active"] != false {
			t.Fatal("the newest access token survived the reuse detection")
		}
		if e.introspect(str(first, "access_token"))["active"] != false {
			t.Fatal("the first access token survived the reuse detection")
		}
		ev := e.events("oauth.refresh_reuse")
		if len(ev) != 1 || ev[0].Reason != "refresh_reused" {
			t.Fatalf("reuse audit events %+v", ev)
		}
	})
}

// TestAttackRefreshScopeAndClient: a refresh cannot widen the scope, and
// another client cannot use the token (which also revokes the family).
func TestAttackRefreshScopeAndClient(t *testing.T) {
	e := newEnv(t, "sqlite")
	code, v, _ := e.codeFor(t, webID, "openid")
	_, first := e.exchange(code, v, webID, "")
	st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(first, "refresh_token")}, "client_id": {webID}, "scope": {"openid notes:read"}}, "", "")
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_scope")
	st, body, _ = e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(first, "refresh_token")}}, appID, appSecret)
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
	st, body, _ = e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(first, "refresh_token")}, "client_id": {webID}}, "", "")
	wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
}

// TestAttackClientAuthentication: wrong secrets and unknown clients get the
// same answer; a public client cannot pretend to be confidential.
func TestAttackClientAuthentication(t *testing.T) {
	e := newEnv(t, "sqlite")
	cc := func(id, secret string) (int, map[string]any, http.Header) {
		return e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, id, secret)
	}
	stWrong, bodyWrong, hWrong := cc(svcID, "wrong-secret-0123456789abcdefghijklmnop")
	stUnknown, bodyUnknown, hUnknown := cc("no-such-client", "wrong-secret-0123456789abcdefghijklmnop")
	wantOAuthError(t, stWrong, bodyWrong, http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, stUnknown, bodyUnknown, http.StatusUnauthorized, "invalid_client")
	if str(bodyWrong, "error_description") != str(bodyUnknown, "error_description") ||
		hWrong.Get("WWW-Authenticate") != hUnknown.Get("WWW-Authenticate") || hWrong.Get("WWW-Authenticate") == "" {
		t.Fatalf("unknown client and wrong secret are distinguishable: %v / %v", bodyWrong, bodyUnknown)
	}
	cases := []struct {
		name string
		form url.Values
		id   string
		sec  string
		code string
	}{
		{"reject/empty-secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {svcID}, "client_secret": {""}}, "", "", "invalid_client"},
		{"reject/confidential-without-secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {svcID}}, "", "", "invalid_client"},
		{"reject/no-credentials", url.Values{"grant_type": {"client_credentials"}}, "", "", "invalid_client"},
		{"reject/two-methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {svcSecret}}, svcID, svcSecret, "invalid_request"},
		{"reject/public-client-credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {webID}}, "", "", "unauthorized_client"},
		{"reject/public-with-secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {webID}, "client_secret": {"x"}}, "", "", "invalid_client"},
		{"reject/secret-prefix", url.Values{"grant_type": {"client_credentials"}, "client_id": {svcID}, "client_secret": {svcSecret[:20]}}, "", "", "invalid_client"},
		{"reject/sql-injection-id", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x' OR '1'='1"}, "client_secret": {"' OR ''='"}}, "", "", "invalid_client"},
		{"reject/scope-escalation", url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read admin"}}, svcID, svcSecret, "invalid_scope"},
		{"reject/resource-escalation", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://evil.example"}}, svcID, svcSecret, "invalid_target"},
		{"reject/password-grant", url.Values{"grant_type": {"password"}, "username": {userName}, "password": {userPass}}, svcID, svcSecret, "unsupported_grant_type"},
		{"reject/implicit-grant", url.Values{"grant_type": {"implicit"}}, svcID, svcSecret, "unsupported_grant_type"},
		{"reject/duplicate-grant-type", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, svcID, svcSecret, "invalid_request"},
		{"reject/code-grant-not-allowed", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, svcID, svcSecret, "unauthorized_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := e.tokenRequest(tc.form, tc.id, tc.sec)
			want := http.StatusBadRequest
			if tc.code == "invalid_client" {
				want = http.StatusUnauthorized
			}
			wantOAuthError(t, st, body, want, tc.code)
		})
	}
}

// TestTokenEndpointHostileInput: malformed and oversized requests get
// RFC 6749 errors (or a problem for the body limit), never a panic or an
// internal detail.
func TestTokenEndpointHostileInput(t *testing.T) {
	e := newEnv(t, "sqlite")
	post := func(ct, target, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+target, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.SetBasicAuth(svcID, svcSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String(), resp.Header
	}
	cases := []struct {
		name, ct, target, body string
		status                 int
	}{
		{"reject/json-body", "application/json", oauth.PathToken, `{"grant_type":"client_credentials"}`, 400},
		{"reject/no-content-type", "", oauth.PathToken, "grant_type=client_credentials", 400},
		{"reject/params-in-query", "application/x-www-form-urlencoded", oauth.PathToken + "?grant_type=client_credentials", "", 400},
		{"reject/bad-percent-encoding", "application/x-www-form-urlencoded", oauth.PathToken, "grant_type=%zz", 400},
		{"reject/oversized-body", "application/x-www-form-urlencoded", oauth.PathToken, "grant_type=client_credentials&x=" + strings.Repeat("a", 2<<20), 400},
		{"reject/huge-scope", "application/x-www-form-urlencoded", oauth.PathToken, "grant_type=client_credentials&scope=" + strings.Repeat("a+", 3000), 400},
		{"reject/nul-in-code", "application/x-www-form-urlencoded", oauth.PathToken, "grant_type=authorization_code&code=a%00b", 400},
		{"reject/revoke-json", "application/json", oauth.PathRevoke, `{"token":"x"}`, 400},
		{"reject/introspect-no-token", "application/x-www-form-urlencoded", oauth.PathIntrospect, "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body, h := post(tc.ct, tc.target, tc.body)
			if st != tc.status && !(tc.name == "reject/oversized-body" && st == http.StatusRequestEntityTooLarge) {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") || strings.Contains(strings.ToLower(body), "sql") {
				t.Fatalf("answer leaks internals: %s", body)
			}
			if tc.target == oauth.PathToken && h.Get("Cache-Control") != "no-store" && st != http.StatusRequestEntityTooLarge {
				t.Fatalf("Cache-Control %q", h.Get("Cache-Control"))
			}
		})
	}
}

// TestAttackCrossSiteForms: login and consent refuse cross-site posts
// (http.CrossOriginProtection) and posts without the CSRF token.
func TestAttackCrossSiteForms(t *testing.T) {
	e := newEnv(t, "sqlite")
	_, ch := pkce()
	authURL := e.authorizeURL(appID, e.callback, "openid", "st", ch)
	b := e.browser()
	p := b.get(authURL)
	lp := b.get(p.location)
	form := hidden(lp.body)
	form.Set("username", userName)
	form.Set("password", userPass)
	t.Run("reject/login-cross-site", func(t *testing.T) {
		r := b.post(oauth.PathLogin, form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		if r.status != http.StatusForbidden || r.location != "" {
			t.Fatalf("got %d %q", r.status, r.location)
		}
	})
	t.Run("reject/login-foreign-origin-no-fetch-metadata", func(t *testing.T) {
		r := b.post(oauth.PathLogin, form, "Sec-Fetch-Site", "", "Origin", "https://evil.example")
		if r.status != http.StatusForbidden {
			t.Fatalf("got %d", r.status)
		}
	})
	t.Run("reject/login-without-token", func(t *testing.T) {
		f := url.Values{"username": {userName}, "password": {userPass}, "return": {form.Get("return")}}
		if r := b.post(oauth.PathLogin, f); r.status != http.StatusForbidden || r.location != "" {
			t.Fatalf("got %d %q", r.status, r.location)
		}
	})
	t.Run("reject/login-forged-token", func(t *testing.T) {
		f := url.Values{"username": {userName}, "password": {userPass}, "csrf_token": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}
		if r := b.post(oauth.PathLogin, f); r.status != http.StatusForbidden {
			t.Fatalf("got %d", r.status)
		}
	})
	t.Run("reject/login-token-from-another-browser", func(t *testing.T) {
		other := e.browser()
		op := other.get(p.location)
		f := hidden(op.body)
		f.Set("username", userName)
		f.Set("password", userPass)
		// b's cookie with other's token.
		if r := b.post(oauth.PathLogin, f); r.status != http.StatusForbidden {
			t.Fatalf("got %d", r.status)
		}
	})
	// Log in properly, reach the consent page, then attack it.
	r := b.post(oauth.PathLogin, form)
	cp := b.get(r.location)
	if cp.status != http.StatusOK {
		t.Fatalf("consent page %d", cp.status)
	}
	cform := hidden(cp.body)
	cform.Set("decision", "allow")
	t.Run("reject/consent-cross-site", func(t *testing.T) {
		r := b.post(oauth.PathConsent, cform, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		if r.status != http.StatusForbidden || r.location != "" {
			t.Fatalf("got %d %q", r.status, r.location)
		}
	})
	t.Run("reject/consent-without-token", func(t *testing.T) {
		f := url.Values{"decision": {"allow"}, "request": {cform.Get("request")}}
		if r := b.post(oauth.PathConsent, f); r.status != http.StatusForbidden || r.location != "" {
			t.Fatalf("got %d %q", r.status, r.location)
		}
	})
	t.Run("reject/consent-tampered-request", func(t *testing.T) {
		f := url.Values{"decision": {"allow"}, "csrf_token": {cform.Get("csrf_token")},
			"request": {strings.Replace(cform.Get("request"), url.QueryEscape(e.callback), url.QueryEscape("https://evil.example/cb"), 1)}}
		if r := b.post(oauth.PathConsent, f); r.status != http.StatusBadRequest || r.location != "" {
			t.Fatalf("got %d %q", r.status, r.location)
		}
	})
	t.Run("accept/consent-same-origin", func(t *testing.T) {
		if q := b.codeFrom(b.post(oauth.PathConsent, cform)); q.Get("code") == "" {
			t.Fatalf("got %v", q)
		}
	})
	if len(e.events("web.csrf")) < 4 {
		t.Fatal("CSRF refusals not audited")
	}
}

// TestAttackUserEnumeration: unknown user and wrong password get the same
// status and message.
func TestAttackUserEnumeration(t *testing.T) {
	e := newEnv(t, "sqlite")
	try := func(username, password string) page {
		b := e.browser()
		lp := b.get(oauth.PathLogin)
		f := hidden(lp.body)
		f.Set("username", username)
		f.Set("password", password)
		return b.post(oauth.PathLogin, f)
	}
	unknown := try("mallory", "whatever-password-1")
	wrong := try("malloryx", "whatever-password-1")
	wrongPass := try(userName, "whatever-password-1")
	for _, p := range []page{unknown, wrong, wrongPass} {
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Invalid username or password.") {
			t.Fatalf("failed login answered %d %.200s", p.status, p.body)
		}
	}
	norm := func(p page, name string) string {
		body := strings.ReplaceAll(p.body, `value="`+name+`"`, `value=""`)
		return inputRE.ReplaceAllString(body, "")
	}
	if norm(unknown, "mallory") != norm(wrongPass, userName) {
		t.Fatal("unknown user and wrong password pages differ beyond the echoed name")
	}
	if ok := try(strings.ToUpper(userName), userPass); ok.status != http.StatusSeeOther {
		t.Fatalf("case-insensitive username login failed: %d", ok.status)
	}
	fails := e.events("auth.login")
	n := 0
	for _, ev := range fails {
		if ev.Outcome == "failure" {
			n++
			if strings.Contains(ev.Target, "mallory") || strings.Contains(ev.Target, userName) {
				t.Fatalf("failed login audit stores the typed name in clear: %q", ev.Target)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d failed logins audited, want 3", n)
	}
}

// TestRevocationAndIntrospection: RFC 7009 and RFC 7662 rules.
func TestRevocationAndIntrospection(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, tok, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "resource": {apiAud}}, svcID, svcSecret)
		at := str(tok, "access_token")
		// Introspection: a client not in the audience learns nothing.
		if _, body, _ := e.postJSON(oauth.PathIntrospect, url.Values{"token": {at}}, otherID, otherSecret); body["active"] != false || len(body) != 1 {
			t.Fatalf("a client outside the audience introspected: %v", body)
		}
		if body := e.introspect(at); body["active"] != true || str(body, "client_id") != svcID || str(body, "scope") == "" {
			t.Fatalf("resource server introspection: %v", body)
		}
		// Revocation by another client is a silent no-op.
		st, _, _ := e.postJSON(oauth.PathRevoke, url.Values{"token": {at}}, otherID, otherSecret)
		mustStatus(t, st, http.StatusOK, "foreign revoke", nil)
		if e.introspect(at)["active"] != true {
			t.Fatal("another client revoked the token")
		}
		st, _, _ = e.postJSON(oauth.PathRevoke, url.Values{"token": {at}, "token_type_hint": {"access_token"}}, svcID, svcSecret)
		mustStatus(t, st, http.StatusOK, "revoke", nil)
		if e.introspect(at)["active"] != false {
			t.Fatal("revoked access token still active")
		}
		denied, err := e.store.IsDenied(ctx, mustJTI(t, e, at), timeNow())
		if err != nil || !denied {
			t.Fatalf("jti not on the deny list: %v %v", denied, err)
		}
		// Unknown tokens revoke fine; wrong client auth does not.
		st, _, _ = e.postJSON(oauth.PathRevoke, url.Values{"token": {"garbage"}}, svcID, svcSecret)
		mustStatus(t, st, http.StatusOK, "revoke unknown", nil)
		st, body, _ := e.postJSON(oauth.PathRevoke, url.Values{"token": {"garbage"}}, svcID, "bad-secret-0123456789abcdefghijklmnopqr")
		wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")

		// Refresh tokens: revoking one revokes its family.
		code, v, _ := e.codeFor(t, webID, "openid")
		_, user := e.exchange(code, v, webID, "")
		st, _, _ = e.postJSON(oauth.PathRevoke, url.Values{"token": {str(user, "refresh_token")}, "client_id": {webID}}, "", "")
		mustStatus(t, st, http.StatusOK, "revoke refresh", nil)
		if e.introspect(str(user, "access_token"))["active"] != false {
			t.Fatal("access token of a revoked family still active")
		}
		if e.userinfoStatus(str(user, "access_token")) != http.StatusUnauthorized {
			t.Fatal("userinfo accepts a revoked family's access token")
		}
		if len(e.events("oauth.revoke")) < 2 {
			t.Fatal("revocations not audited")
		}
	})
}
