package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// pushParams pushes the authorization request that conf would send (the
// query of its AuthCodeURL) with HTTP Basic client authentication, and
// returns the status and answer.
func (e *env) push(conf *oauth2.Config, secret string, opts ...oauth2.AuthCodeOption) (int, map[string]any) {
	e.t.Helper()
	u, err := url.Parse(conf.AuthCodeURL("state-par", opts...))
	if err != nil {
		e.t.Fatal(err)
	}
	st, body, _ := e.postJSON(oauth.PathPAR, u.Query(), conf.ClientID, secret)
	return st, body
}

// parAuthorizeURL is the authorization request that names a request_uri.
func (e *env) parAuthorizeURL(clientID, requestURI string) string {
	return e.issuer + oauth.PathAuthorize + "?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode()
}

func parConf(e *env, id string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: map[string]string{parID: parSecret, appID: appSecret}[id], RedirectURL: e.callback, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + oauth.PathAuthorize, TokenURL: e.issuer + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}
}

// TestPARWithOAuth2Client: golang.org/x/oauth2 builds the request, it is
// pushed (201, a request_uri of the RFC 9126 form, expires_in 60), the
// browser signs in at the authorization endpoint with only client_id and
// request_uri, and the code is exchanged by the library. The stored
// parameters drive the flow: a state or scope in the query is ignored.
func TestPARWithOAuth2Client(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		conf := parConf(e, parID, "openid")
		verifier := oauth2.GenerateVerifier()
		st, body := e.push(conf, parSecret, oauth2.S256ChallengeOption(verifier))
		uri := str(body, "request_uri")
		if st != http.StatusCreated || !strings.HasPrefix(uri, oauth.RequestURIPrefix) || len(uri) < len(oauth.RequestURIPrefix)+22 || body["expires_in"] != float64(60) {
			t.Fatalf("push: %d %v", st, body)
		}
		b := e.browser()
		q := b.codeFrom(b.login(e.parAuthorizeURL(parID, uri)+"&state=injected&scope=openid+profile", userName, userPass))
		if q.Get("state") != "state-par" || q.Get("iss") != e.issuer {
			t.Fatalf("callback %v: the stored request must drive the flow", q)
		}
		tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken == "" || tok.Extra("scope") != "openid" {
			t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
		}
		if len(e.events(audit.ActionPAR)) == 0 {
			t.Error("no oauth.par audit event")
		}
	})
}

// TestPARReplayRefused: once a request_uri gave a code, the same
// request_uri gives none: not at the authorization endpoint (an error
// page, no redirect) and not by posting its consent form a second time
// (the conditional UPDATE at code issuance).
func TestPARReplayRefused(t *testing.T) {
	e := newEnv(t, "sqlite")
	t.Run("reject/after-code", func(t *testing.T) {
		_, challenge := pkce()
		conf := parConf(e, parID, "openid")
		_, body := e.push(conf, parSecret, oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
		uri := str(body, "request_uri")
		b := e.browser()
		b.codeFrom(b.login(e.parAuthorizeURL(parID, uri), userName, userPass))
		again := b.get(e.parAuthorizeURL(parID, uri))
		if again.status != http.StatusBadRequest || again.location != "" || !strings.Contains(again.body, "invalid_request_uri") {
			t.Fatalf("replayed request_uri: %d %q", again.status, again.location)
		}
	})
	t.Run("reject/consent-posted-twice", func(t *testing.T) {
		_, challenge := pkce()
		conf := parConf(e, appID, "openid", "notes:read")
		_, body := e.push(conf, appSecret, oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
		uri := str(body, "request_uri")
		b := e.browser()
		cp := b.login(e.parAuthorizeURL(appID, uri), userName, userPass)
		if cp.status != http.StatusOK || !strings.Contains(cp.body, "notes:read") {
			t.Fatalf("consent page: %d %.300s", cp.status, cp.body)
		}
		form := hidden(cp.body)
		form.Set("decision", "allow")
		if carried, _ := url.ParseQuery(form.Get("request")); carried.Has("scope") || carried.Get("request_uri") == "" {
			t.Fatalf("the consent form carries parameters, not the reference: %q", form.Get("request"))
		}
		first := b.post(oauth.PathConsent, form)
		if q := b.codeFrom(first); q.Get("code") == "" {
			t.Fatalf("first consent: %v", q)
		}
		// The used request no longer opens: an error page, no code.
		second := b.post(oauth.PathConsent, form)
		if second.status != http.StatusBadRequest || second.location != "" || !strings.Contains(second.body, "invalid_request_uri") {
			t.Fatalf("second consent post: %d %q", second.status, second.location)
		}
	})
	t.Run("reject/concurrent-consent-posts", func(t *testing.T) {
		_, challenge := pkce()
		conf := parConf(e, appID, "openid", "notes:write")
		_, body := e.push(conf, appSecret, oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
		b := e.browser()
		cp := b.login(e.parAuthorizeURL(appID, str(body, "request_uri")), userName, userPass)
		form := hidden(cp.body)
		form.Set("decision", "allow")
		var mu sync.Mutex
		codes := 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := b.post(oauth.PathConsent, form)
				u, _ := url.Parse(p.location)
				if u != nil && u.Query().Get("code") != "" {
					mu.Lock()
					codes++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if codes != 1 {
			t.Fatalf("%d codes from one request_uri, want 1", codes)
		}
	})
	// Each replay is audited as a refused authorization request.
	replays := 0
	for _, ev := range e.events(audit.ActionAuthorize) {
		if ev.Outcome == audit.OutcomeDenied && ev.Reason == oauth.ErrInvalidRequestURI {
			replays++
		}
	}
	if replays < 2 {
		t.Errorf("%d audited request_uri refusals, want at least 2", replays)
	}
}

// TestPARRefusals: expired, unknown and another client's request_uri;
// request_uri or request inside a push; an oversized push; a push that
// fails client authentication or the authorization endpoint's checks.
func TestPARRefusals(t *testing.T) {
	clock := &fakeNow{t: time.Now()}
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.Now = clock.now })
	_, challenge := pkce()
	pkceOpts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256")}
	conf := parConf(e, parID, "openid")
	pageErr := func(t *testing.T, u string) {
		t.Helper()
		p := e.browser().get(u)
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Fatalf("%d %q, want a 400 error page", p.status, p.location)
		}
	}
	t.Run("reject/expired", func(t *testing.T) {
		_, body := e.push(conf, parSecret, pkceOpts...)
		clock.add(61 * time.Second)
		pageErr(t, e.parAuthorizeURL(parID, str(body, "request_uri")))
	})
	t.Run("reject/other-clients-request-uri", func(t *testing.T) {
		_, body := e.push(conf, parSecret, pkceOpts...)
		pageErr(t, e.parAuthorizeURL(appID, str(body, "request_uri")))
		// and it stays usable by its own client
		p := e.browser().get(e.parAuthorizeURL(parID, str(body, "request_uri")))
		if p.status != http.StatusSeeOther || !strings.Contains(p.location, oauth.PathLogin) {
			t.Fatalf("own client after a stranger tried: %d %q", p.status, p.location)
		}
	})
	t.Run("reject/unknown-request-uri", func(t *testing.T) {
		pageErr(t, e.parAuthorizeURL(parID, oauth.RequestURIPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
		pageErr(t, e.parAuthorizeURL(parID, "https://evil.example/request.jwt"))
	})
	push := func(form url.Values, id, secret string) (int, map[string]any) {
		st, body, _ := e.postJSON(oauth.PathPAR, form, id, secret)
		return st, body
	}
	good := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {parID}, "redirect_uri": {e.callback}, "scope": {"openid"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	}
	for _, tc := range []struct {
		name       string
		mutate     func(url.Values)
		id, secret string
		status     int
		code       string
	}{
		{"reject/request-uri-inside-par", func(v url.Values) { v.Set("request_uri", oauth.RequestURIPrefix+"x") }, parID, parSecret, 400, "invalid_request"},
		{"reject/request-object", func(v url.Values) { v.Set("request", "eyJhbGciOiJub25lIn0.e30.") }, parID, parSecret, 400, "request_not_supported"},
		{"reject/bad-secret", nil, parID, "wrong-secret-0123456789abcdefghijklmnopqr", 401, "invalid_client"},
		{"reject/no-client-auth", nil, "", "", 401, "invalid_client"},
		{"reject/other-client-id", func(v url.Values) { v.Set("client_id", appID) }, parID, parSecret, 400, "invalid_request"},
		{"reject/unregistered-redirect", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, parID, parSecret, 400, "invalid_request"},
		{"reject/no-pkce", func(v url.Values) { v.Del("code_challenge") }, parID, parSecret, 400, "invalid_request"},
		{"reject/scope-not-allowed", func(v url.Values) { v.Set("scope", "admin") }, parID, parSecret, 400, "invalid_scope"},
		{"reject/implicit", func(v url.Values) { v.Set("response_type", "token") }, parID, parSecret, 400, "unsupported_response_type"},
		{"reject/oversized", func(v url.Values) { v.Set("state", strings.Repeat("a", 64<<10)) }, parID, parSecret, 413, "invalid_request"},
		{"accept/client-id-from-auth", func(v url.Values) { v.Del("client_id") }, parID, parSecret, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			if tc.mutate != nil {
				tc.mutate(f)
			}
			st, body := push(f, tc.id, tc.secret)
			if st != tc.status || str(body, "error") != tc.code {
				t.Fatalf("status %d %v, want %d %s", st, body, tc.status, tc.code)
			}
		})
	}
	t.Run("reject/query-parameters", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+oauth.PathPAR+"?"+good().Encode(), nil)
		req.SetBasicAuth(parID, parSecret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("parameters in the query: %d", resp.StatusCode)
		}
	})
}

// TestPARRequired: a client that must push (per client, or every client
// by the global switch) and sends a plain authorization request is sent
// back to its registered redirect URI with invalid_request; the global
// switch is published in discovery.
func TestPARRequired(t *testing.T) {
	_, challenge := pkce()
	t.Run("reject/per-client", func(t *testing.T) {
		e := newEnv(t, "sqlite")
		p := e.browser().get(e.authorizeURL(parID, e.callback, "openid", "s", challenge))
		q := e.browser().codeFrom(p)
		if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "pushed") {
			t.Fatalf("plain request of a PAR client: %v", q)
		}
		// An unregistered redirect URI gets the error page, never a redirect.
		p = e.browser().get(e.authorizeURL(parID, "https://evil.example/cb", "openid", "s", challenge))
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Fatalf("unregistered redirect: %d %q", p.status, p.location)
		}
		// Other clients are not affected.
		if p := e.browser().get(e.authorizeURL(webID, e.callback, "openid", "s", challenge)); p.status != http.StatusSeeOther || !strings.Contains(p.location, oauth.PathLogin) {
			t.Fatalf("plain request of another client: %d %q", p.status, p.location)
		}
	})
	t.Run("reject/global", func(t *testing.T) {
		e := newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.RequirePAR = true })
		q := e.browser().codeFrom(e.browser().get(e.authorizeURL(webID, e.callback, "openid", "s", challenge)))
		if q.Get("error") != "invalid_request" {
			t.Fatalf("plain request with PAR required globally: %v", q)
		}
		st, doc, _ := e.getJSON("/.well-known/oauth-authorization-server")
		if st != http.StatusOK || doc["require_pushed_authorization_requests"] != true || doc["pushed_authorization_request_endpoint"] != e.issuer+oauth.PathPAR {
			t.Fatalf("discovery: %v", doc)
		}
		// A public client pushes with client_id only and goes on.
		form := url.Values{"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {e.callback}, "scope": {"openid"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		st, body, _ := e.postJSON(oauth.PathPAR, form, "", "")
		if st != http.StatusCreated {
			t.Fatalf("public push: %d %v", st, body)
		}
		p := e.browser().get(e.parAuthorizeURL(webID, str(body, "request_uri")))
		if p.status != http.StatusSeeOther || !strings.Contains(p.location, oauth.PathLogin) {
			t.Fatalf("pushed request with PAR required: %d %q", p.status, p.location)
		}
	})
}

// fakeNow is a settable clock.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time      { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }

// getJSON fetches path and decodes the JSON answer.
func (e *env) getJSON(path string) (int, map[string]any, http.Header) {
	e.t.Helper()
	resp, err := http.Get(e.issuer + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}
