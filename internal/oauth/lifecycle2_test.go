package oauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// lifecycle2: an administrator's password reset and client disabling,
// performed on a running server and attacked with what was issued before.

const (
	storedID     = "stored-app"
	storedSecret = "stored-app-secret-0123456789abcdefghijklmno"
	resetPass    = "a temporary passphrase the admin chose"
	adminActor   = "user:an-admin"
)

// adminService is the admin use cases on the env's stores, wired like
// app.newAdminService (the real revoker and access ender).
func (e *env) adminService(t *testing.T, reg admin.ConfiguredClients) *admin.Service {
	t.Helper()
	revoker := oauth.Revoker{Store: e.store.OAuthStore}
	return admin.New(admin.Options{Clients: e.store.OAuthStore, Configured: reg, SecretKey: testMasterKey(t).Derive(kms.LabelClientSecret),
		Revoker: revoker, Users: e.users, Directory: e.store.IdentityStore, Sessions: e.store.IdentityStore,
		Ender: oauth.AccessEnder{Sessions: e.store.IdentityStore, Tokens: e.store.OAuthStore, Revoker: revoker, Audit: e.audit}, Audit: e.audit})
}

// configuredOnly stands for the registry's configuration clients.
type configuredOnly map[string]bool

func (c configuredOnly) IsConfigured(id string) bool { return c[id] }
func (configuredOnly) Configured() []*oauth.Client   { return nil }

// TestAdminPasswordResetEndsEverything performs the attack a reset
// answers: someone holds the user's session cookie, refresh token and
// access token (and knows the old password); an administrator resets the
// password; every one of them is refused, and the user must choose their
// own password at the next sign-in.
func TestAdminPasswordResetEndsEverything(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		code, verifier, owner := e.codeFor(t, webID, "openid notes:read")
		st, tok := e.exchange(code, verifier, webID, "")
		mustStatus(t, st, http.StatusOK, "exchange", tok)
		thief := e.browser()
		owner.stealCookies(thief)
		if p := thief.get(oauth.PathAccount); p.status != http.StatusOK {
			t.Fatalf("the copied cookie does not work before the reset (test broken): %d", p.status)
		}
		if !e.introspectActive(t, str(tok, "access_token")) {
			t.Fatal("the access token is inactive before the reset (test broken)")
		}
		svc := e.adminService(t, configuredOnly{})
		ended, err := svc.ResetPassword(t.Context(), adminActor, e.userID, resetPass)
		if err != nil || ended.Sessions != 1 || ended.RevokedAccessTokens != 1 {
			t.Fatalf("reset: %+v %v", ended, err)
		}
		for name, b := range map[string]*browser{"thief": thief, "owner": owner} {
			if p := b.get(oauth.PathAccount); p.status != http.StatusSeeOther || p.location != oauth.PathLogin {
				t.Fatalf("the %s's session survived the reset: %d %q", name, p.status, p.location)
			}
		}
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}, "client_id": {webID}}, "", "")
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		if st := e.userinfoStatus(str(tok, "access_token")); st != http.StatusUnauthorized {
			t.Fatalf("the access token from before the reset works at userinfo: %d", st)
		}
		if e.introspectActive(t, str(tok, "access_token")) {
			t.Fatal("the access token from before the reset introspects active")
		}
		if p := e.browser().signInAs(userName, userPass); p.status != http.StatusUnauthorized {
			t.Fatalf("the old password still signs in: %d", p.status)
		}
		// The reset password signs in only to the forced change form.
		b := e.browser()
		_, ch := pkce()
		p := b.login(e.authorizeURL(webID, e.callback, "openid", "st", ch), userName, resetPass)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="forced"`) {
			t.Fatalf("the reset user is not forced to change the password: %d %q", p.status, p.location)
		}
		if p := b.get(e.issuer + oauth.PathAccount); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathAccountPassword) {
			t.Fatalf("the account page opens before the forced change: %d %q", p.status, p.location)
		}
		if ev := e.events(audit.ActionPasswordReset); len(ev) != 1 || ev[0].Actor != adminActor || ev[0].Target != "user:"+e.userID ||
			ev[0].Details["must_change_password"] != "true" || ev[0].Details["sessions_ended"] != "1" {
			t.Fatalf("user.password_reset events: %+v", ev)
		}
		if ev := e.events(audit.ActionUserAccessEnd); len(ev) != 1 || ev[0].Reason != "password_reset" || ev[0].Actor != adminActor {
			t.Fatalf("user.access_end events: %+v", ev)
		}
	})
}

// TestAdminPasswordResetRefusals: an administrator cannot reset their own
// password this way (a stolen admin token alone must not set a password:
// the account page asks for the current one); a weak password and an
// unknown user are refused; none of them changes the password or ends a
// session.
func TestAdminPasswordResetRefusals(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	if p := b.signInAs(userName, userPass); p.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", p.status)
	}
	svc := e.adminService(t, configuredOnly{})
	var cf *admin.ConflictError
	if _, err := svc.ResetPassword(t.Context(), "user:"+e.userID, e.userID, resetPass); !errors.As(err, &cf) {
		t.Fatalf("self reset: %v, want a ConflictError", err)
	}
	var inv *admin.InvalidError
	if _, err := svc.ResetPassword(t.Context(), adminActor, e.userID, "short"); !errors.As(err, &inv) {
		t.Fatalf("weak password: %v, want an InvalidError", err)
	}
	var nf *admin.NotFoundError
	if _, err := svc.ResetPassword(t.Context(), adminActor, "nobody", resetPass); !errors.As(err, &nf) {
		t.Fatalf("unknown user: %v, want a NotFoundError", err)
	}
	if p := b.get(oauth.PathAccount); p.status != http.StatusOK {
		t.Fatalf("a refused reset ended the session: %d", p.status)
	}
	if p := e.browser().signInAs(userName, userPass); p.status != http.StatusSeeOther {
		t.Fatalf("a refused reset changed the password: %d", p.status)
	}
	if ev := e.events(audit.ActionPasswordReset); len(ev) != 0 {
		t.Fatalf("refusals recorded a reset: %+v", ev)
	}
}

// storedClient registers a confidential client in the store (as `rampart
// client create` does) for the code, refresh and client-credentials
// grants, PAR and introspection.
func (e *env) storedClient(t testing.TB) {
	t.Helper()
	now := time.Now().UTC()
	c := &oauth.Client{ID: storedID, SecretHash: oauth.HashSecret(testMasterKey(t).Derive(kms.LabelClientSecret), storedSecret),
		GrantTypes:   []string{"authorization_code", "refresh_token", "client_credentials", config.GrantDeviceCode},
		RedirectURIs: []string{e.callback}, Scopes: []string{"openid", "notes:read"}, Audience: []string{apiAud}, SkipConsent: true,
		Source: oauth.SourceCLI, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

func (e *env) clientCredentials(t *testing.T) (int, map[string]any) {
	t.Helper()
	st, body, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}}, storedID, storedSecret)
	return st, body
}

// TestDisabledClientRefusedEverywhere performs what a disabled client (or
// whoever stole its secret) would try: client credentials, refresh with
// a token issued before, introspection, a pushed authorization request, a
// device authorization request (and polling a device code from before),
// an authorization request (plain and with a request_uri pushed before),
// revocation; each fails with invalid_client (the authorization endpoint
// with its error page, never a redirect), and the access tokens issued
// before introspect inactive. Enabling the client again revives none of
// them.
func TestDisabledClientRefusedEverywhere(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		e.storedClient(t)
		st, cc := e.clientCredentials(t)
		mustStatus(t, st, http.StatusOK, "client credentials before", cc)
		st, dev, _ := e.postJSON(oauth.PathDeviceAuthorization, url.Values{"scope": {"notes:read"}}, storedID, storedSecret)
		mustStatus(t, st, http.StatusOK, "device authorization before", dev)
		code, verifier, _ := e.codeFor(t, storedID, "openid notes:read")
		st, tok := e.exchange(code, verifier, storedID, storedSecret)
		mustStatus(t, st, http.StatusOK, "exchange before", tok)
		conf := &oauth2.Config{ClientID: storedID, ClientSecret: storedSecret, RedirectURL: e.callback, Scopes: []string{"openid"},
			Endpoint: oauth2.Endpoint{AuthURL: e.issuer + oauth.PathAuthorize, TokenURL: e.issuer + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}
		_, ch := pkce()
		pst, pushed := e.push(conf, storedSecret, oauth2.S256ChallengeOption(ch))
		mustStatus(t, pst, http.StatusCreated, "PAR before", pushed)
		for _, at := range []string{str(cc, "access_token"), str(tok, "access_token")} {
			if !e.introspectActive(t, at) {
				t.Fatal("an access token is inactive before the disable (test broken)")
			}
		}

		svc := e.adminService(t, configuredOnly{})
		n, err := svc.DisableClient(t.Context(), adminActor, storedID)
		if err != nil || n != 1 {
			// The code flow's family had one live access token; a
			// client-credentials token has no family (it is short-lived and
			// refused at introspection through the registry).
			t.Fatalf("disable: %d %v", n, err)
		}
		refused := func(when string) {
			t.Helper()
			st, body := e.clientCredentials(t)
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
			st, body, _ = e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, storedID, storedSecret)
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
			st, body, _ = e.postJSON(oauth.PathIntrospect, url.Values{"token": {str(tok, "access_token")}}, storedID, storedSecret)
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
			st, body, _ = e.postJSON(oauth.PathRevoke, url.Values{"token": {str(tok, "refresh_token")}}, storedID, storedSecret)
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
			st, body = e.push(conf, storedSecret, oauth2.S256ChallengeOption(ch))
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
			st, body, _ = e.postJSON(oauth.PathDeviceAuthorization, url.Values{"scope": {"notes:read"}}, storedID, storedSecret)
			wantOAuthError(t, st, body, http.StatusUnauthorized, "invalid_client")
			for name, u := range map[string]string{
				"plain":       e.authorizeURL(storedID, e.callback, "openid", "st", ch),
				"request_uri": e.parAuthorizeURL(storedID, str(pushed, "request_uri")),
			} {
				p := e.browser().get(u)
				if p.status == http.StatusSeeOther || p.status == http.StatusFound || p.location != "" || p.status < 400 {
					t.Fatalf("%s: authorize (%s) for a disabled client: %d %q, want the error page", when, name, p.status, p.location)
				}
			}
		}
		refused("disabled")
		// The device code issued before is gone: polling it fails even once
		// the client is enabled again (below).
		devicePoll := func() (int, map[string]any) {
			st, body, _ := e.tokenRequest(url.Values{"grant_type": {config.GrantDeviceCode}, "device_code": {str(dev, "device_code")}}, storedID, storedSecret)
			return st, body
		}
		for _, at := range []string{str(cc, "access_token"), str(tok, "access_token")} {
			if e.introspectActive(t, at) {
				t.Fatal("an access token issued before the disable introspects active")
			}
		}
		// A rerun is harmless and answers the same.
		if n, err := svc.DisableClient(t.Context(), adminActor, storedID); err != nil || n != 0 {
			t.Fatalf("second disable: %d %v", n, err)
		}

		if err := svc.EnableClient(t.Context(), adminActor, storedID); err != nil {
			t.Fatal(err)
		}
		st, fresh := e.clientCredentials(t)
		mustStatus(t, st, http.StatusOK, "client credentials after enable", fresh)
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, storedID, storedSecret)
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		st, body = devicePoll()
		wantOAuthError(t, st, body, http.StatusBadRequest, "invalid_grant")
		if e.introspectActive(t, str(tok, "access_token")) {
			t.Fatal("enabling the client revived an access token from before the disable")
		}
		if p := e.browser().get(e.parAuthorizeURL(storedID, str(pushed, "request_uri"))); p.status == http.StatusSeeOther || p.location != "" {
			t.Fatalf("enabling the client revived a pushed request: %d %q", p.status, p.location)
		}
		if ev := e.events(audit.ActionClientDisable); len(ev) != 2 || ev[0].Target != "client:"+storedID || ev[0].Details["revoked_access_tokens"] != "1" {
			t.Fatalf("client.disable events: %+v", ev)
		}
		if ev := e.events(audit.ActionClientEnable); len(ev) != 1 || ev[0].Actor != adminActor {
			t.Fatalf("client.enable events: %+v", ev)
		}
	})
}

// TestDisableClientRefusals: a configuration-file client is never
// disabled here (change the file), an unknown one is not found.
func TestDisableClientRefusals(t *testing.T) {
	e := newEnv(t, "sqlite")
	svc := e.adminService(t, configuredOnly{svcID: true})
	var cf *admin.ConflictError
	if _, err := svc.DisableClient(t.Context(), adminActor, svcID); !errors.As(err, &cf) {
		t.Fatalf("configured client: %v, want a ConflictError", err)
	}
	if err := svc.EnableClient(t.Context(), adminActor, svcID); !errors.As(err, &cf) {
		t.Fatalf("configured client enable: %v, want a ConflictError", err)
	}
	var nf *admin.NotFoundError
	if _, err := svc.DisableClient(t.Context(), adminActor, "nobody"); !errors.As(err, &nf) {
		t.Fatalf("unknown client: %v", err)
	}
	st, body, _ := e.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}, svcID, svcSecret)
	mustStatus(t, st, http.StatusOK, "configured client after a refused disable", body)
}

// BenchmarkTokenStoredClientCredentials is
// BenchmarkTokenEndpointClientCredentials for a stored client: the
// registry reads the client (and its disabled flag) from the store on
// every request.
// go test -run '^$' -bench 'TokenStoredClientCredentials|TokenEndpointClientCredentials' -benchmem ./internal/oauth/
func BenchmarkTokenStoredClientCredentials(b *testing.B) {
	e := newEnv(b, "sqlite")
	e.storedClient(b)
	h := e.srv.Config.Handler
	body := "grant_type=client_credentials&scope=notes%3Aread"
	b.ReportAllocs()
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/token", strings.NewReader(body))
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(storedID, storedSecret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
