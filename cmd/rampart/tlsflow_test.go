package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/config"
)

// TestAuthorizationCodeOverAutoTLS: the code flow over Rampart's own TLS,
// with the session and CSRF cookies as __Host- Secure HttpOnly cookies.
func TestAuthorizationCodeOverAutoTLS(t *testing.T) {
	cb := "http://127.0.0.1:9/callback" // never fetched: the redirect is inspected
	base, cfgPath := authServerTLS(t, `clients:
  - id: app
    public: true
    grant_types: [authorization_code]
    redirect_uris: ['`+cb+`']
    scopes: [openid]
    skip_consent: true
`, config.TLSAuto)
	if code, _, errOut := cli(t, "a long tls password\n", "user", "create", "--config", cfgPath, "--username", "carol", "--password-stdin"); code != 0 {
		t.Fatal(errOut)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	c := &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	conf := oauth2.Config{ClientID: "app", RedirectURL: cb, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token"}}
	verifier := oauth2.GenerateVerifier()
	resp, err := c.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(base + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if !strings.HasPrefix(ck.Name, "__Host-") || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
			t.Fatalf("cookie on TLS is not a __Host- Secure HttpOnly cookie: %+v", ck)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS on the TLS login page")
	}
	form := url.Values{"username": {"carol"}, "password": {"a long tls password"}}
	for _, m := range csrfRE.FindAllStringSubmatch(string(body), -1) {
		form.Set("csrf_token", html.UnescapeString(m[1]))
	}
	if m := regexpReturn.FindStringSubmatch(string(body)); m != nil {
		form.Set("return", html.UnescapeString(m[1]))
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-rampart-session" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login over TLS: %d, session cookie %+v", resp.StatusCode, session)
	}
	resp, err = c.Get(base + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("iss") != base {
		t.Fatalf("no code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tr})
	if _, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange over TLS: %v", err)
	}
}
