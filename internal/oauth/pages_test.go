package oauth_test

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/web"
)

const brandedID = "branded"

// newBrandedEnv is newEnv plus a consent-asking client whose display
// fields and scope descriptions are hostile markup.
func newBrandedEnv(t *testing.T) *env {
	return newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		hasher, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c := oauth.ClientFromConfig(config.Client{ID: brandedID, Public: true, GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{o.Issuer + "/cb"}, Scopes: []string{"openid", "notes:read", "custom:x"},
			DisplayName: `Notes <script>alert(1)</script>`, LogoURI: "https://cdn.example/logo.png?a=1&b=<x>",
			PolicyURI: "https://notes.example/privacy", TOSURI: "https://notes.example/terms"}, "", nil)
		o.Clients = oauth.NewRegistry(append(o.Clients.Configured(), c), o.Store, testMasterKey(t).Derive(kms.LabelClientSecret), hasher)
		o.ScopeDescriptions = map[string]string{"notes:read": `Read your <b onmouseover=x>notes</b>`}
	})
}

// TestConsentPageShowsClientAndScopes: the consent page names the client
// by its display name (the id as secondary text), shows its logo (allowed
// by the page's CSP) and links, and describes scopes, every value escaped
// as text: a display name or description with markup injects nothing.
func TestConsentPageShowsClientAndScopes(t *testing.T) {
	e := newBrandedEnv(t)
	b := e.browser()
	_, ch := pkce()
	p := b.login(e.authorizeURL(brandedID, e.issuer+"/cb", "openid notes:read custom:x", "s", ch), userName, userPass)
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="allow"`) {
		t.Fatalf("no consent page: %d %q", p.status, p.location)
	}
	for _, want := range []string{
		`<strong id="client-name">Notes &lt;script&gt;alert(1)&lt;/script&gt;</strong>`,
		`<small class="muted" id="client-id">(branded)</small>`,
		`Sign you in to the application <small class="muted"><code>openid</code></small>`,
		`Read your &lt;b onmouseover=x&gt;notes&lt;/b&gt; <small class="muted"><code>notes:read</code></small>`,
		`<li><code>custom:x</code></li>`,
		`src="https://cdn.example/logo.png?a=1&amp;b=%3cx%3e"`,
		`href="https://notes.example/privacy"`, `href="https://notes.example/terms"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	for _, bad := range []string{"<script>", "<b onmouseover"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("unescaped %s on the consent page", bad)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https://cdn.example;") {
		t.Errorf("CSP does not allow the client logo: %s", csp)
	}
	if t.Failed() {
		t.Log(p.body)
	}
}

// TestClientPageURIsMustBeHTTPS: a javascript: or http logo, policy or
// terms link is refused by configuration validation (no page shows one).
func TestClientPageURIsMustBeHTTPS(t *testing.T) {
	for name, c := range map[string]config.Client{
		"reject/javascript-logo": {LogoURI: "javascript:alert(1)"},
		"reject/http-policy":     {PolicyURI: "http://notes.example/privacy"},
		"reject/data-tos":        {TOSURI: "data:text/html,<script>alert(1)</script>"},
		"reject/control-name":    {DisplayName: "Notes\u202e\x00"},
		"reject/logout-uri-js":   {PostLogoutRedirectURIs: []string{"javascript:alert(1)"}},
	} {
		t.Run(name, func(t *testing.T) {
			c.ID, c.Public, c.GrantTypes, c.RedirectURIs = "c", true, []string{"authorization_code"}, []string{"https://notes.example/cb"}
			cfg := config.Config{Clients: []config.Client{c}}
			if err := cfg.ValidateClients(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestLoginErrorFocusesPassword: after a wrong password the password
// field has autofocus (the username is kept); a fresh page focuses the
// username.
func TestLoginErrorFocusesPassword(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	lp := b.get(oauth.PathLogin)
	if !strings.Contains(lp.body, `maxlength="64" autofocus>`) || strings.Contains(lp.body, `maxlength="1024" autofocus`) {
		t.Fatalf("fresh login page focus wrong:\n%s", lp.body)
	}
	form := hidden(lp.body)
	form.Set("username", userName)
	form.Set("password", "wrong password entirely")
	p := b.post(oauth.PathLogin, form)
	if p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	if !strings.Contains(p.body, `id="password" name="password" autocomplete="current-password" required maxlength="1024" autofocus>`) ||
		strings.Contains(p.body, `maxlength="64" autofocus`) || !strings.Contains(p.body, `value="alice"`) {
		t.Fatalf("password field not focused after a failure:\n%s", p.body)
	}
}

// TestBrandingAndFavicon: the product name is on every page (escaped),
// the favicon is served, and a logo is served sandboxed.
func TestBrandingAndFavicon(t *testing.T) {
	e := newEnv(t, "sqlite")
	web.SetBranding(web.Branding{ProductName: `Acme <ID>`, Logo: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), LogoType: "image/svg+xml"})
	t.Cleanup(func() { web.SetBranding(web.Branding{}) })
	b := e.browser()
	for _, path := range []string{oauth.PathLogin, oauth.PathEndSession} {
		p := b.get(path)
		if !strings.Contains(p.body, `<span class="product" id="product">Acme &lt;ID&gt;</span>`) || !strings.Contains(p.body, `· Acme &lt;ID&gt;</title>`) ||
			!strings.Contains(p.body, `<img src="/static/logo"`) {
			t.Fatalf("%s lacks the branding:\n%s", path, p.body)
		}
	}
	fav := b.get(web.FaviconPath)
	if fav.status != http.StatusOK || fav.header.Get("Content-Type") != "image/x-icon" || !strings.HasPrefix(fav.body, "\x00\x00\x01\x00") {
		t.Fatalf("favicon: %d %s", fav.status, fav.header.Get("Content-Type"))
	}
	logo := b.get(web.LogoPath)
	if logo.status != http.StatusOK || !strings.Contains(logo.header.Get("Content-Security-Policy"), "sandbox") || logo.header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("logo: %d %v", logo.status, logo.header)
	}
}

// TestForcedPasswordChange: a user flagged must_change_password (as the
// dev admin is; an admin first enrols TOTP, see TestMFAAdminForcedToEnrol
// and cmd/rampart's dev admin test) who signs in for an authorization request gets the change form,
// and no code, account page or consent until the password is changed;
// then the request continues with a new session.
func TestForcedPasswordChange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		const one = "one-time password from the terminal"
		if _, err := e.users.Create(t.Context(), identity.NewUser{Actor: "system", Username: "admin", Password: one, Role: identity.RoleUser, MustChangePassword: true}); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		_, ch := pkce()
		authURL := e.authorizeURL(webID, e.callback, "openid", "st", ch)
		p := b.login(authURL, "admin", one)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="forced"`) {
			t.Fatalf("no forced change after sign-in: %d %q", p.status, p.location)
		}
		changeForm := hidden(p.body)
		for _, u := range []string{authURL, e.issuer + oauth.PathAccount} {
			if p := b.get(u); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathAccountPassword) {
				t.Fatalf("%s before the change: %d %q", u, p.status, p.location)
			}
		}
		before := b.client.Jar.Cookies(mustURL(e.issuer))
		changeForm.Set("current_password", one)
		changeForm.Set("new_password", "my own admin passphrase")
		changeForm.Set("new_password_again", "my own admin passphrase")
		p = b.post(oauth.PathAccountPassword, changeForm)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathAuthorize+"?") {
			t.Fatalf("change: %d %q %.300s", p.status, p.location, p.body)
		}
		if sameSession(before, b.client.Jar.Cookies(mustURL(e.issuer))) {
			t.Fatal("the session did not rotate on the forced change")
		}
		q := b.codeFrom(b.get(p.location))
		if q.Get("code") == "" || q.Get("state") != "st" {
			t.Fatalf("no code after the change: %v", q)
		}
		if u, err := e.users.Authenticate(t.Context(), "admin", "my own admin passphrase"); err != nil || u.MustChangePassword {
			t.Fatalf("flag not cleared: %+v %v", u, err)
		}
		if p := e.browser().signInAs("admin", one); p.status != http.StatusUnauthorized {
			t.Fatalf("the one-time password still works: %d", p.status)
		}
	})
}
