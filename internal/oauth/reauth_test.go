package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
)

const (
	resAppID = "res-app" // public, asks for consent, audiences apiAud and otherAud
	otherAud = "https://other.example.test"
)

// offsetClock is the server's clock, moved forward by tests.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// loginReturn opens an authorization request that needs a sign-in and
// returns the return value the login page carries.
func (b *browser) loginReturn(authURL string) string {
	b.t.Helper()
	p := b.get(authURL)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathLogin+"?") {
		b.t.Fatalf("expected the login page, got %d %q", p.status, p.location)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query().Get("return")
}

// signIn posts the login form for ret and returns the URL the browser is
// sent to (the authorization request with the sign-in's proof).
func (b *browser) signIn(ret string) string {
	b.t.Helper()
	lp := b.get(oauth.PathLogin + "?" + url.Values{"return": {ret}}.Encode())
	f := hidden(lp.body)
	f.Set("username", userName)
	f.Set("password", userPass)
	r := b.post(oauth.PathLogin, f)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, oauth.PathAuthorize+"?") {
		b.t.Fatalf("sign-in: %d %q %.300s", r.status, r.location, r.body)
	}
	return r.location
}

// wantLogin fails unless p sends the browser to the login page: no code.
func wantLogin(t *testing.T, p page, what string) {
	t.Helper()
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathLogin+"?") {
		t.Fatalf("%s: want a redirect to the login page, got %d %q", what, p.status, p.location)
	}
}

func withParam(rawURL, k, v string) string {
	u, _ := url.Parse(rawURL)
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestAttackReauthReplay: a relying party asks for prompt=login or
// max_age; whoever sits at a browser with an existing session (not the
// user, who would know the password) opens the authorization endpoint with
// the request the login page carries, or forges or moves the server's
// proof of a sign-in. Before the fix the carried request had prompt and
// max_age removed, so the replay got a code for the relying party's state,
// nonce and PKCE without any sign-in. Now every attempt is sent to the
// login page, and only a real sign-in for that very request completes.
func TestAttackReauthReplay(t *testing.T) {
	clock := &offsetClock{}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.Now = clock.now })
	b := e.browser()
	_, ch := pkce()
	b.codeFrom(b.login(e.authorizeURL(webID, e.callback, "openid", "s0", ch), userName, userPass))

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"reject/prompt-login-replay", []string{"prompt", "login"}},
		{"reject/max-age-0-replay", []string{"max_age", "0"}},
		{"reject/max-age-replay", []string{"max_age", "30"}},
		{"reject/prompt-login-consent-replay", []string{"prompt", "login consent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "reject/max-age-replay" {
				clock.advance(time.Minute) // the session is now older than max_age
			}
			_, ch := pkce()
			ret := b.loginReturn(e.authorizeURL(webID, e.callback, "openid", "rp-state", ch, append(tc.extra, "nonce", "rp-nonce")...))
			// The return value keeps what the relying party asked for.
			q, _ := url.ParseQuery(ret)
			if tc.extra[0] == "prompt" && q.Get("prompt") != tc.extra[1] || tc.extra[0] == "max_age" && q.Get("max_age") != tc.extra[1] {
				t.Errorf("the carried request lost %s: %q", tc.extra[0], ret)
			}
			wantLogin(t, b.get(oauth.PathAuthorize+"?"+ret), "replay of the carried request")
			forged := withParam(oauth.PathAuthorize+"?"+ret, oauth.ParamLoginProof, itoa64(clock.now().UnixNano())+".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			wantLogin(t, b.get(forged), "a forged proof")
		})
	}

	// A real sign-in for request 1 yields a proof; it is worthless for
	// another request, for another session and after LoginProofTTL.
	_, ch1 := pkce()
	ret1 := b.loginReturn(e.authorizeURL(webID, e.callback, "openid", "one", ch1, "prompt", "login"))
	next1 := b.signIn(ret1)
	proof := mustQuery(t, next1).Get(oauth.ParamLoginProof)
	if proof == "" {
		t.Fatalf("no proof after the sign-in: %q", next1)
	}
	t.Run("reject/proof-moved-to-another-request", func(t *testing.T) {
		_, ch2 := pkce()
		other := withParam(e.authorizeURL(webID, e.callback, "openid", "two", ch2, "prompt", "login"), oauth.ParamLoginProof, proof)
		wantLogin(t, b.get(other), "a proof of another request")
	})
	t.Run("accept/fresh-sign-in", func(t *testing.T) {
		// Positive control: the proof completes its own request.
		if q := b.codeFrom(b.get(next1)); q.Get("code") == "" || q.Get("state") != "one" {
			t.Fatalf("no code after the fresh sign-in: %v", q)
		}
	})
	t.Run("reject/proof-of-an-older-session", func(t *testing.T) {
		_, ch3 := pkce()
		ret3 := b.loginReturn(e.authorizeURL(webID, e.callback, "openid", "three", ch3, "max_age", "0"))
		next3 := b.signIn(ret3)
		// Signing in again (any request) starts a new session: the proof
		// of the previous one no longer counts.
		_ = b.signIn(ret1)
		wantLogin(t, b.get(next3), "a proof of a replaced session")
	})
	t.Run("reject/stale-proof", func(t *testing.T) {
		clock.advance(oauth.LoginProofTTL + time.Second)
		wantLogin(t, b.get(next1), "a proof older than LoginProofTTL")
	})
}

// TestAttackConsentPostSkipsReauth: the consent form carries the request,
// so a hand-built consent post names a prompt=login request with the old
// session. Before the fix handleConsent issued the code; now it sends the
// browser to sign in.
func TestAttackConsentPostSkipsReauth(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	_, ch := pkce()
	cp := b.login(e.authorizeURL(appID, e.callback, "openid", "s", ch), userName, userPass)
	if cp.status != http.StatusOK || !strings.Contains(cp.body, `name="decision"`) {
		t.Fatalf("want the consent page: %d %.300s", cp.status, cp.body)
	}
	csrf := hidden(cp.body).Get("csrf_token")
	for _, tc := range []struct{ name, k, v string }{
		{"reject/consent-post-prompt-login", "prompt", "login"},
		{"reject/consent-post-max-age-0", "max_age", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ch := pkce()
			u, _ := url.Parse(e.authorizeURL(appID, e.callback, "openid", "rp-state", ch, tc.k, tc.v))
			p := b.post(oauth.PathConsent, url.Values{"csrf_token": {csrf}, "request": {u.RawQuery}, "decision": {"allow"}})
			wantLogin(t, p, "a consent post for "+tc.name)
		})
	}
	t.Run("accept/consent-post-plain", func(t *testing.T) {
		// Positive control: the same post without prompt=login is answered
		// with a code, so the rejections above are the sign-in rule.
		_, ch := pkce()
		u, _ := url.Parse(e.authorizeURL(appID, e.callback, "openid", "rp-state", ch))
		p := b.post(oauth.PathConsent, url.Values{"csrf_token": {csrf}, "request": {u.RawQuery}, "decision": {"allow"}})
		if q := b.codeFrom(p); q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
	})
}

// TestFreshSignInAuthTime: after prompt=login the ID token's auth_time is
// the fresh sign-in's, not the earlier session's.
func TestFreshSignInAuthTime(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	_, ch := pkce()
	b.codeFrom(b.login(e.authorizeURL(webID, e.callback, "openid", "s", ch), userName, userPass))
	time.Sleep(1100 * time.Millisecond) // auth_time has whole seconds
	verifier, ch := pkce()
	ret := b.loginReturn(e.authorizeURL(webID, e.callback, "openid", "s", ch, "prompt", "login", "nonce", "n"))
	before := time.Now().Unix()
	q := b.codeFrom(b.get(b.signIn(ret)))
	st, tok := e.exchange(q.Get("code"), verifier, webID, "")
	mustStatus(t, st, http.StatusOK, "exchange", tok)
	claims := decodeClaims(t, str(tok, "id_token"))
	if at, _ := claims["auth_time"].(float64); int64(at) < before {
		t.Fatalf("auth_time %v is before the fresh sign-in at %d", claims["auth_time"], before)
	}
}

// TestPromptConsent: prompt=consent survives the sign-in (it was dropped
// with every other prompt value) and asks even when a consent is
// remembered, and even for a first-party (skip_consent) client.
func TestPromptConsent(t *testing.T) {
	e := newEnv(t, "sqlite")
	// A remembered consent for notes/openid.
	if err := e.store.SaveConsent(context.Background(), &oauth.Consent{UserID: e.userID, ClientID: appID, Scopes: []string{"openid"}, GrantedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, client string }{
		{"reject/prompt-consent-dropped-at-sign-in", appID},
		{"reject/prompt-consent-first-party", webID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser() // no session: the request goes through the login page
			_, ch := pkce()
			p := b.login(e.authorizeURL(tc.client, e.callback, "openid", "s", ch, "prompt", "consent"), userName, userPass)
			if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision"`) {
				t.Fatalf("prompt=consent after sign-in: want the consent page, got %d %q", p.status, p.location)
			}
			// And with the session, directly.
			_, ch = pkce()
			p = b.get(e.authorizeURL(tc.client, e.callback, "openid", "s", ch, "prompt", "consent"))
			if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision"`) {
				t.Fatalf("prompt=consent with a session: want the consent page, got %d %q", p.status, p.location)
			}
		})
	}
	t.Run("accept/remembered-without-prompt", func(t *testing.T) {
		b := e.browser()
		_, ch := pkce()
		if q := b.codeFrom(b.login(e.authorizeURL(appID, e.callback, "openid", "s", ch), userName, userPass)); q.Get("code") == "" {
			t.Fatalf("remembered consent not used: %v", q)
		}
	})
}

func mustQuery(t *testing.T, rawURL string) url.Values {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
