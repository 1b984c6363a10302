package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/jwtauth"
)

// verifierFor is a resource server's jwtauth verifier for the env's issuer,
// fetching keys from the published JWKS.
func verifierFor(t *testing.T, e *env, audience string) *jwtauth.Verifier {
	t.Helper()
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: e.issuer + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.New(jwtauth.Config{Issuer: e.issuer, Keys: jwks, Audiences: []string{audience}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		resp, err := http.Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]string{
			"issuer": e.issuer, "authorization_endpoint": e.issuer + oauth.PathAuthorize, "token_endpoint": e.issuer + oauth.PathToken,
			"jwks_uri": e.issuer + "/.well-known/jwks.json", "userinfo_endpoint": e.issuer + oauth.PathUserinfo,
			"revocation_endpoint": e.issuer + oauth.PathRevoke, "introspection_endpoint": e.issuer + oauth.PathIntrospect,
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %s", path, k, m[k], v)
			}
		}
		list := func(k string) []string {
			var out []string
			for _, x := range m[k].([]any) {
				out = append(out, x.(string))
			}
			return out
		}
		if got := list("response_types_supported"); !slices.Equal(got, []string{"code"}) {
			t.Errorf("response_types_supported = %v", got)
		}
		if got := list("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
			t.Errorf("code_challenge_methods_supported = %v", got)
		}
		grants := list("grant_types_supported")
		if slices.Contains(grants, "implicit") || slices.Contains(grants, "password") || !slices.Contains(grants, "client_credentials") {
			t.Errorf("grant_types_supported = %v", grants)
		}
		if m["authorization_response_iss_parameter_supported"] != true {
			t.Error("authorization_response_iss_parameter_supported is not true")
		}
		if !slices.Contains(list("token_endpoint_auth_methods_supported"), "client_secret_basic") {
			t.Error("token_endpoint_auth_methods_supported lacks client_secret_basic")
		}
	}
}

func TestClientCredentialsWithOAuth2Client(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cc := clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.issuer + oauth.PathToken,
				Scopes: []string{"reports:read"}, AuthStyle: style, EndpointParams: url.Values{"resource": {apiAud}}}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("auth style %d: %v", style, err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken != "" || time.Until(tok.Expiry) < 9*time.Minute {
				t.Fatalf("token %+v", tok)
			}
			claims, err := verifierFor(t, e, apiAud).Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("resource server rejects the token: %v", err)
			}
			if claims.Subject != svcID || claims.ClientID != svcID || claims.Scope != "reports:read" || claims.ID == "" ||
				!slices.Equal(claims.Audience, []string{apiAud}) || claims.ExpiresAt.Sub(claims.IssuedAt) != 10*time.Minute {
				t.Fatalf("claims %+v", claims)
			}
		}
		if n := len(e.events("oauth.token")); n != 2 {
			t.Fatalf("%d oauth.token audit events, want 2", n)
		}
	})
}

func TestAuthorizationCodeWithOAuth2AndOIDC(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		provider, err := oidc.NewProvider(ctx, e.issuer)
		if err != nil {
			t.Fatal(err)
		}
		conf := oauth2.Config{ClientID: webID, Endpoint: provider.Endpoint(), RedirectURL: e.callback,
			Scopes: []string{oidc.ScopeOpenID, "profile", "notes:read"}}
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-456"))

		b := e.browser()
		q := b.codeFrom(b.login(authURL, userName, userPass))
		if q.Get("state") != "state-123" || q.Get("iss") != e.issuer || q.Get("code") == "" {
			t.Fatalf("callback parameters %v", q)
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: webID}).Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("go-oidc rejects the ID token: %v", err)
		}
		if idt.Nonce != "nonce-456" || idt.Subject != e.userID {
			t.Fatalf("ID token nonce %q subject %q", idt.Nonce, idt.Subject)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("at_hash: %v", err)
		}
		var extra struct {
			AZP      string `json:"azp"`
			AuthTime int64  `json:"auth_time"`
			Username string `json:"preferred_username"`
		}
		if err := idt.Claims(&extra); err != nil || extra.AZP != webID || extra.AuthTime == 0 || extra.Username != userName {
			t.Fatalf("ID token claims %+v %v", extra, err)
		}
		claims, err := verifierFor(t, e, apiAud).Verify(ctx, tok.AccessToken)
		if err != nil || claims.Subject != e.userID || claims.ClientID != webID || claims.Scope != "openid profile notes:read" {
			t.Fatalf("access token %+v %v", claims, err)
		}
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != e.userID {
			t.Fatalf("userinfo %+v %v", info, err)
		}

		// Refresh through the library: the refresh token rotates.
		old := tok.RefreshToken
		tok.Expiry = time.Now().Add(-time.Minute)
		next, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatal(err)
		}
		if next.RefreshToken == "" || next.RefreshToken == old || next.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		for _, action := range []string{"auth.login", "oauth.authorize", "oauth.token", "oauth.refresh"} {
			if len(e.events(action)) == 0 {
				t.Errorf("no %s audit event", action)
			}
		}
	})
}

// TestNativeLoopbackPort: a native app's loopback redirect may use any
// port (RFC 8252 §7.3); the token request must repeat the exact URI.
func TestNativeLoopbackPort(t *testing.T) {
	e := newEnv(t, "sqlite")
	v, ch := pkce()
	redirect := "http://127.0.0.1:53124/native"
	b := e.browser()
	p := b.login(e.authorizeURL(webID, redirect, "openid", "s", ch), userName, userPass)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, redirect+"?") {
		t.Fatalf("got %d %q", p.status, p.location)
	}
	u, _ := url.Parse(p.location)
	status, body, _ := e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {v}, "client_id": {webID}}, "", "")
	mustStatus(t, status, http.StatusOK, "token", body)
}

// TestConsentRememberedAndRevocable: a third-party client asks once; the
// consent is remembered, then withdrawn from the account page, which also
// revokes the client's tokens.
func TestConsentRememberedAndRevocable(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		b := e.browser()
		v, ch := pkce()
		p := b.login(e.authorizeURL(appID, e.callback, "openid notes:read", "s1", ch), userName, userPass)
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision" value="allow"`) || !strings.Contains(p.body, `value="deny"`) {
			t.Fatalf("expected the consent page, got %d %.300s", p.status, p.body)
		}
		form := hidden(p.body)
		form.Set("decision", "allow")
		q := b.codeFrom(b.post(oauth.PathConsent, form))
		status, tok, _ := e.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {e.callback}, "code_verifier": {v}}, appID, appSecret)
		mustStatus(t, status, http.StatusOK, "token", tok)

		// Second time: no consent page.
		_, ch2 := pkce()
		b.codeFrom(b.get(e.authorizeURL(appID, e.callback, "notes:read", "s2", ch2)))
		// A wider request asks again.
		_, ch3 := pkce()
		if p := b.get(e.authorizeURL(appID, e.callback, "notes:write", "s3", ch3)); p.status != http.StatusOK || !strings.Contains(p.body, "notes:write") {
			t.Fatalf("wider scope did not ask again: %d", p.status)
		}
		// Deny sends access_denied back.
		_, ch4 := pkce()
		p = b.get(e.authorizeURL(appID, e.callback, "notes:write", "s4", ch4))
		form = hidden(p.body)
		form.Set("decision", "deny")
		if q := b.codeFrom(b.post(oauth.PathConsent, form)); q.Get("error") != "access_denied" || q.Get("state") != "s4" || q.Get("code") != "" {
			t.Fatalf("deny answered %v", q)
		}

		// Withdraw from the account page.
		acct := b.get(oauth.PathAccount)
		if acct.status != http.StatusOK || !strings.Contains(acct.body, appID) {
			t.Fatalf("account page %d %.300s", acct.status, acct.body)
		}
		rv := url.Values{"csrf_token": {hidden(acct.body).Get("csrf_token")}, "client_id": {appID}}
		if p := b.post(oauth.PathAccount+"/consents/revoke", rv); p.status != http.StatusSeeOther {
			t.Fatalf("revoke consent %d %s", p.status, p.body)
		}
		if st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, appID, appSecret); st != http.StatusBadRequest || str(body, "error") != "invalid_grant" {
			t.Fatalf("refresh after consent withdrawal: %d %v", st, body)
		}
		if st, body, _ := e.postJSON(oauth.PathIntrospect, url.Values{"token": {str(tok, "access_token")}}, "introspector", otherSecret); st != 200 || body["active"] != false {
			t.Fatalf("access token still active after consent withdrawal: %v", body)
		}
		_, ch5 := pkce()
		if p := b.get(e.authorizeURL(appID, e.callback, "notes:read", "s5", ch5)); p.status != http.StatusOK {
			t.Fatalf("consent not asked again after withdrawal: %d", p.status)
		}
	})
}
