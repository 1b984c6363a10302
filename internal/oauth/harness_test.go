package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/internal/web"
)

// Test clients and users.
const (
	svcID       = "reporting"
	svcSecret   = "reporting-secret-0123456789abcdefghijklmnop"
	otherID     = "other-svc"
	otherSecret = "other-secret-0123456789abcdefghijklmnopqrst"
	webID       = "web"   // public, first-party (skip_consent)
	appID       = "notes" // confidential, asks for consent
	appSecret   = "notes-secret-0123456789abcdefghijklmnopqrst"
	apiAud      = "https://api.example.test"
	userName    = "alice"
	userPass    = "correct horse battery staple"
)

// env is a running authorization server on a real store.
type env struct {
	t        testing.TB
	driver   string
	store    *storetest.Store
	audit    *audit.Log
	keys     *keys.Manager
	master   *kms.KEK // the test master key's key-encryption key
	users    *identity.Users
	srv      *httptest.Server
	as       *oauth.Server // the server under test (clientauth_other_test.go)
	issuer   string
	callback string // the callback server's URL (redirect target)
	jwksURL  string // parjwt: signer-uri's jwks_uri (127.0.0.1)
	userID   string
}

// testMasterKey is the test kit's master key, parsed as serve parses it.
func testMasterKey(t testing.TB) *kms.MasterKey {
	mk, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// newEnv starts a server on driver with the standard clients.
func newEnv(t testing.TB, driver string) *env { return newEnvWith(t, driver, nil) }

// newEnvWith is newEnv with a shared deny list for revoked access tokens.
func newEnvWith(t testing.TB, driver string, deny oauth.DenyPublisher) *env {
	return newEnvOpts(t, driver, func(o *oauth.Options) { o.Deny = deny })
}

// newEnvOpts is newEnv with the server options adjusted by mutate.
func newEnvOpts(t testing.TB, driver string, mutate func(*oauth.Options)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, driver: driver, store: storetest.Open(t, driver)}
	mk := testMasterKey(t)
	kek, err := kms.NewKEK(mk, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.master = kek
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	al, err := audit.New(audit.Options{Store: e.store, HMACKey: mk.Derive("audit"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.audit = al
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	km, err := keys.NewManager(keys.Options{Store: e.store, Master: kek, MaxTokenLifetime: 24 * time.Hour, Auditor: al, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	e.keys = km
	hasher, err := identity.NewHasher(identity.Params{}, 2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.users = identity.NewUsers(e.store, hasher, e.audit, nil, nil)
	u, err := e.users.Create(ctx, identity.NewUser{Actor: "system", Username: userName, Password: userPass})
	if err != nil {
		t.Fatal(err)
	}
	e.userID = u.ID

	// A callback server stands in for the client's redirect endpoint.
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "callback") }))
	t.Cleanup(cb.Close)
	e.callback = cb.URL + "/callback"
	e.jwksURL = startJWKSServer(t) // parjwt: the signer-uri client's keys

	e.srv = httptest.NewUnstartedServer(nil)
	e.issuer = "http://" + e.srv.Listener.Addr().String()
	secretKey := mk.Derive(kms.LabelClientSecret)
	env := map[string]string{"SVC": svcSecret, "OTHER": otherSecret, "APP": appSecret, "PAR": parSecret}
	var clients []*oauth.Client
	for _, cc := range []config.Client{
		{ID: svcID, SecretEnv: "SVC", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read", "reports:write"}, Audience: []string{apiAud, "https://other.example.test"}},
		{ID: otherID, SecretEnv: "OTHER", GrantTypes: []string{"client_credentials", "authorization_code"}, RedirectURIs: []string{e.callback}, Scopes: []string{"openid"}, ResourceServer: false},
		{ID: webID, Public: true, GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{e.callback, "http://127.0.0.1:9999/native"},
			Scopes: []string{"openid", "profile", "notes:read"}, Audience: []string{apiAud}, SkipConsent: true,
			PostLogoutRedirectURIs: []string{cb.URL + "/logged-out"}},
		{ID: appID, SecretEnv: "APP", GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{e.callback},
			Scopes: []string{"openid", "profile", "notes:read", "notes:write"}},
		{ID: "introspector", SecretEnv: "OTHER", GrantTypes: []string{"client_credentials"}, ResourceServer: true},
		// dpopSvcID requires DPoP proofs (dpop_test.go).
		{ID: dpopSvcID, SecretEnv: "SVC", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}, Audience: []string{apiAud}, RequireDPoP: true},
		// certSvcID requires certificate-bound tokens (certbound_test.go).
		{ID: certSvcID, SecretEnv: "SVC", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}, Audience: []string{apiAud}, CertificateBoundAccessTokens: true},
		// Device grant clients (device_test.go): a public CLI and a confidential kiosk.
		{ID: tvID, Public: true, GrantTypes: []string{config.GrantDeviceCode, "refresh_token"}, Scopes: []string{"openid", "profile", "notes:read"}, Audience: []string{apiAud}},
		{ID: kioskID, SecretEnv: "APP", GrantTypes: []string{config.GrantDeviceCode}, Scopes: []string{"notes:read"}},
		// resAppID asks for consent and has two resource servers (reauth_test.go).
		{ID: resAppID, Public: true, GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{e.callback},
			Scopes: []string{"openid", "notes:read", "notes:write"}, Audience: []string{apiAud, otherAud}},
	} {
		clients = append(clients, oauth.ClientFromConfig(cc, env[cc.SecretEnv], secretKey))
	}
	for _, cc := range parjwtClients(e) {
		clients = append(clients, oauth.ClientFromConfig(cc, env[cc.SecretEnv], secretKey))
	}
	for _, cc := range fapiClients(e) { // fapi: fapi_test.go
		clients = append(clients, oauth.ClientFromConfig(cc, env[cc.SecretEnv], secretKey))
	}
	opts := oauth.Options{
		Issuer: e.issuer, Store: e.store, Clients: oauth.NewRegistry(clients, e.store, secretKey, hasher), Users: e.users,
		Sessions: identity.NewSessions(e.store, time.Hour, false, nil, nil), Signer: km, Keys: km, Audit: al,
		CSRF: web.NewCSRF(mk.Derive("csrf"), false, nil), Logger: logger, LoginProofKey: mk.Derive(kms.LabelLoginProof),
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: 24 * time.Hour, RefreshTokenIdleTTL: time.Hour, IDTokenTTL: time.Hour,
		MFA: identity.NewMFA(e.store, kek, "Rampart", nil, nil),
	}
	if mutate != nil {
		mutate(&opts)
	}
	as, err := oauth.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.as = as
	mux := http.NewServeMux()
	as.Register(mux)
	mux.Handle("GET /.well-known/jwks.json", km.JWKSHandler())
	mux.Handle(testResourcePath, testResource(as))
	e.srv.Config.Handler = httpx.Chain(httpx.MuxProblems(mux), httpx.RequestID, httpx.SecurityHeaders(false), httpx.Recover(logger), httpx.LimitBody(1<<20))
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// forEachDriver runs fn against SQLite and (when configured) PostgreSQL.
func forEachDriver(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { fn(t, newEnv(t, d)) })
	}
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see every hop.
type browser struct {
	t      testing.TB
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{t: e.t, e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.e.issuer + u
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	return b.do(req)
}

// post submits a form as a same-origin browser would.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.issuer)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return b.do(req)
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the hidden inputs of a page.
func hidden(body string) url.Values {
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL builds an authorization request.
func (e *env) authorizeURL(clientID, redirect, scope, state, challenge string, extra ...string) string {
	v := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {scope}, "state": {state}}
	if challenge != "" {
		v.Set("code_challenge", challenge)
		v.Set("code_challenge_method", "S256")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			v.Del(extra[i])
		} else {
			v.Set(extra[i], extra[i+1])
		}
	}
	return e.issuer + oauth.PathAuthorize + "?" + v.Encode()
}

// login follows an authorization request through the login page, signing
// in, and returns the page after the post-login redirect chain reaches a
// consent page or the client's callback.
func (b *browser) login(authURL, username, password string) page {
	b.t.Helper()
	p := b.get(authURL)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, oauth.PathLogin) {
		b.t.Fatalf("authorize without session: %d %q %s", p.status, p.location, p.body)
	}
	lp := b.get(p.location)
	if lp.status != http.StatusOK {
		b.t.Fatalf("login page: %d %s", lp.status, lp.body)
	}
	form := hidden(lp.body)
	form.Set("username", username)
	form.Set("password", password)
	res := b.post(oauth.PathLogin, form)
	if res.status != http.StatusSeeOther {
		return res
	}
	return b.get(res.location)
}

// codeFrom extracts code, state and iss from a callback redirect.
func (b *browser) codeFrom(p page) url.Values {
	b.t.Helper()
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, b.e.callback) {
		b.t.Fatalf("expected a redirect to the callback, got %d %q %.300s", p.status, p.location, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query()
}

// tokenRequest posts to the token endpoint and decodes the JSON answer.
func (e *env) tokenRequest(form url.Values, basicID, basicSecret string) (int, map[string]any, http.Header) {
	e.t.Helper()
	return e.postJSON(oauth.PathToken, form, basicID, basicSecret)
}

func (e *env) postJSON(path string, form url.Values, basicID, basicSecret string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			e.t.Fatalf("%s answered non-JSON %q", path, body)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// events returns the audit records with action.
func (e *env) events(action string) []audit.Event {
	e.t.Helper()
	if err := e.audit.Close(context.Background()); err != nil && err != audit.ErrClosed {
		e.t.Fatal(err)
	}
	recs, err := e.store.ScanAudit(context.Background(), 0, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Event
	for _, r := range recs {
		if r.Event.Action == action {
			out = append(out, r.Event)
		}
	}
	return out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func mustStatus(t *testing.T, got, want int, what string, body any) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d (%v)", what, got, want, body)
	}
}

var _ = fmt.Sprintf

func timeNow() time.Time { return time.Now() }

// mustJTI reads the jti of a token verified by a resource server.
func mustJTI(t *testing.T, e *env, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.JTI == "" {
		t.Fatalf("no jti: %v", err)
	}
	return c.JTI
}

func itoa64(n int64) string { return fmt.Sprint(n) }
