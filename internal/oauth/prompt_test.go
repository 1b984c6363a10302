package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// TestPromptAndMaxAge: prompt=login and max_age=0 force a fresh sign-in
// even with a session; prompt=none with a session but no consent answers
// consent_required; after the fresh sign-in the flow completes.
func TestPromptAndMaxAge(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	_, ch := pkce()
	b.codeFrom(b.login(e.authorizeURL(webID, e.callback, "openid", "s", ch), userName, userPass))
	for name, extra := range map[string][]string{"prompt=login": {"prompt", "login"}, "max_age=0": {"max_age", "0"}} {
		t.Run(name, func(t *testing.T) {
			_, ch := pkce()
			p := b.get(e.authorizeURL(webID, e.callback, "openid", "s", ch, extra...))
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathLogin) {
				t.Fatalf("with a session, %s should ask for sign-in: %d %q", name, p.status, p.location)
			}
			lp := b.get(p.location)
			f := hidden(lp.body)
			f.Set("username", userName)
			f.Set("password", userPass)
			r := b.post(oauth.PathLogin, f)
			// The fresh sign-in satisfies prompt=login and max_age: the flow
			// completes instead of looping back to the login page.
			if q := b.codeFrom(b.get(r.location)); q.Get("code") == "" {
				t.Fatalf("no code after the fresh sign-in: %v", q)
			}
		})
	}
	t.Run("prompt=none-needs-consent", func(t *testing.T) {
		_, ch := pkce()
		q := b.codeFrom(b.get(e.authorizeURL(appID, e.callback, "openid", "s", ch, "prompt", "none")))
		if q.Get("error") != "consent_required" || q.Get("state") != "s" {
			t.Fatalf("got %v", q)
		}
	})
}

// TestUserinfoRefusals: no token, a token without openid, and a
// client-credentials token (no user) are refused with RFC 6750 answers.
func TestUserinfoRefusals(t *testing.T) {
	e := newEnv(t, "sqlite")
	get := func(auth string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+oauth.PathUserinfo, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return http.DefaultClient.Do(req)
	}
	resp, _ := get("")
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp.Body.Close()
	resp, _ = get("Basic Zm9vOmJhcg==")
	if resp.StatusCode != 401 {
		t.Fatalf("basic credentials: %d", resp.StatusCode)
	}
	resp.Body.Close()
	_, cc, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, svcID, svcSecret)
	resp, _ = get("Bearer " + str(cc, "access_token"))
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("token without openid: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp.Body.Close()
	code, v, _ := e.codeFor(t, webID, "notes:read")
	_, tok := e.exchange(code, v, webID, "")
	resp, _ = get("Bearer " + str(tok, "access_token"))
	if resp.StatusCode != 403 {
		t.Fatalf("user token without openid: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = get("Bearer " + str(tok, "access_token") + "x")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("tampered token: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
