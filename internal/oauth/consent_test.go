package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// consentPage fails unless p is the consent page, and returns it.
func consentPage(t *testing.T, p page, what string) page {
	t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("%s: want the consent page, got %d %q", what, p.status, p.location)
	}
	return p
}

// TestAttackConsentOtherResource: the user allowed res-app for the
// resource A (the page said "for the resource A"); the client then asks
// for the resource B, another of its configured audiences. Before the fix
// the remembered consent (user, client, scopes) covered it and a code for
// B was issued unasked; now the consent page asks, on both stores.
func TestAttackConsentOtherResource(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		b := e.browser()
		_, ch := pkce()
		p := consentPage(t, b.login(e.authorizeURL(resAppID, e.callback, "openid notes:read", "s", ch, "resource", apiAud), userName, userPass), "first request for A")
		if !strings.Contains(p.body, apiAud) || strings.Contains(p.body, otherAud) {
			t.Fatalf("the consent page must name A only: %.600s", p.body)
		}
		f := hidden(p.body)
		f.Set("decision", "allow")
		if q := b.codeFrom(b.post(oauth.PathConsent, f)); q.Get("code") == "" {
			t.Fatalf("no code after allow: %v", q)
		}
		c, err := e.store.GetConsent(context.Background(), e.userID, resAppID)
		if err != nil || len(c.Audience) != 1 || c.Audience[0] != apiAud {
			t.Fatalf("stored consent %+v %v, want audience [%s]", c, err, apiAud)
		}

		_, ch = pkce()
		consentPage(t, b.get(e.authorizeURL(resAppID, e.callback, "openid notes:read", "s", ch, "resource", otherAud)), "reject/other-resource")
		_, ch = pkce()
		consentPage(t, b.get(e.authorizeURL(resAppID, e.callback, "openid notes:read", "s", ch)), "reject/every-resource (no resource parameter)")
		_, ch = pkce()
		consentPage(t, b.get(e.authorizeURL(resAppID, e.callback, "openid notes:write", "s", ch, "resource", apiAud)), "reject/other-scope")
		// Positive control: what was allowed is remembered.
		_, ch = pkce()
		if q := b.codeFrom(b.get(e.authorizeURL(resAppID, e.callback, "notes:read", "s", ch, "resource", apiAud))); q.Get("code") == "" {
			t.Fatalf("accept/same-resource: %v", q)
		}
		// The account page lists the resource.
		acc := b.get(oauth.PathAccount)
		if !strings.Contains(acc.body, "<code>"+apiAud+"</code>") {
			t.Fatalf("the account page does not list the resource: %.800s", acc.body)
		}
	})
}

// TestConsentMigratedRowCoversNoResource: a consent remembered before
// consents named resources (migration 0003 gives it none) does not cover a
// request for a configured resource; for a client without audiences it
// still covers what it did.
func TestConsentMigratedRowCoversNoResource(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	for _, id := range []string{resAppID, appID} {
		if err := e.store.SaveConsent(ctx, &oauth.Consent{UserID: e.userID, ClientID: id, Scopes: []string{"openid"}, GrantedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	_, ch := pkce()
	consentPage(t, b.login(e.authorizeURL(resAppID, e.callback, "openid", "s", ch, "resource", apiAud), userName, userPass), "reject/migrated-consent-resource")
	_, ch = pkce()
	if q := b.codeFrom(b.get(e.authorizeURL(appID, e.callback, "openid", "s", ch))); q.Get("code") == "" {
		t.Fatalf("accept/migrated-consent-no-audience: %v", q)
	}
}

// TestLoginPageNamesOnlyRegisteredClients: anyone can link to the login
// page with a return value naming any client_id. Before the fix the page
// said "to continue to IT-Security password reset"; now it names a client
// only when it is registered and the redirect URI is one of its own.
func TestLoginPageNamesOnlyRegisteredClients(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	const phish = "IT-Security password reset"
	for _, tc := range []struct {
		name, client, redirect string
		shown                  bool
	}{
		{"reject/unregistered-client-id", phish, e.callback, false},
		{"reject/registered-client-foreign-redirect", appID, "https://evil.example/cb", false},
		{"accept/registered-client", appID, e.callback, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ch := pkce()
			u := e.authorizeURL(tc.client, tc.redirect, "openid", "s", ch)
			ret := u[strings.Index(u, "?")+1:]
			p := b.get(oauth.PathLogin + "?return=" + url.QueryEscape(ret))
			mustStatus(t, p.status, http.StatusOK, "login page", p.body)
			named := strings.Contains(p.body, "to continue to")
			if named != tc.shown || strings.Contains(p.body, phish) {
				t.Fatalf("client named=%v, want %v: %.600s", named, tc.shown, p.body)
			}
			if tc.shown && !strings.Contains(p.body, "<strong>"+tc.client+"</strong>") {
				t.Fatalf("registered client not named: %.600s", p.body)
			}
		})
	}
}
