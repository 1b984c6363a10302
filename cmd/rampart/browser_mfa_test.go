package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// mfaServer runs serve with one public first-party client and an admin
// without TOTP; it returns the server, the client's config and callback.
func mfaServer(t *testing.T) (base string, conf oauth2.Config) {
	t.Helper()
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>callback</title><p id=done>signed in</p>")
	}))
	t.Cleanup(callback.Close)
	cbURL := callback.URL + "/callback"
	base, cfgPath := authServer(t, fmt.Sprintf(`clients:
  - id: console
    public: true
    skip_consent: true
    grant_types: [authorization_code]
    redirect_uris: ['%s']
    scopes: [openid]
`, cbURL))
	if code, out, errOut := cli(t, "an admin password for the browser\n", "user", "create", "--config", cfgPath, "--username", "root", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}
	return base, oauth2.Config{ClientID: "console", RedirectURL: cbURL, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token"}}
}

func nowCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// idTokenACR exchanges code and returns the ID token's acr (the token
// endpoint's answer is trusted here: flow tests verify it with go-oidc).
func idTokenACR(t *testing.T, conf oauth2.Config, code, verifier string) string {
	t.Helper()
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q", raw)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		ACR string   `json:"acr"`
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.ACR + " " + strings.Join(c.AMR, ",")
}

// TestBrowserAdminSignInForcedThroughTOTP drives an admin's first sign-in
// in headless Chromium: the password alone does not finish it; the admin
// is sent to set up TOTP (QR code and secret), confirms a code from the
// secret, is shown ten recovery codes once, and only then reaches the
// client with a code whose ID token says acr mfa, amr pwd+otp.
func TestBrowserAdminSignInForcedThroughTOTP(t *testing.T) {
	chromiumPath(t) // skip before any server starts
	base, conf := mfaServer(t)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("mfa-state", oauth2.S256ChallengeOption(verifier))

	tctx := browserCtx(t, authURL)
	ctx := tctx
	fail := func(step string, err error) {
		t.Helper()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser %s: %v (at %s)", step, err, loc)
	}
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "root"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "an admin password for the browser"),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#mfa-required`)),
	); err != nil {
		fail("password step", err)
	}
	secret, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#secret`)))
	if err != nil {
		fail("secret", err)
	}
	src, err := chromedp.Run(tctx, chromedp.AttributeValue(chromedp.CSS(`#qr`), "src"))
	if err != nil || !strings.HasPrefix(src.Value, "data:image/png;base64,") {
		t.Fatalf("no server-rendered QR code: %q %v", src.Value, err)
	}
	if err := chromedp.Do(tctx,
		chromedp.SendKeys(chromedp.CSS(`#otp`), nowCode(t, strings.TrimSpace(secret))),
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
	); err != nil {
		fail("enrolment", err)
	}
	codes, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('#recovery-codes li').length`))
	if err != nil || codes != 10 {
		t.Fatalf("%d recovery codes shown, want 10 (%v)", codes, err)
	}
	if err := chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS(`#continue`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		fail("continue", err)
	}
	location, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil {
		fail("location", err)
	}
	u, err := url.Parse(location)
	if err != nil || u.Query().Get("code") == "" || u.Query().Get("iss") != base {
		t.Fatalf("ended at %q", location)
	}
	if got := idTokenACR(t, conf, u.Query().Get("code"), verifier); got != oauth.ACRMFA+" pwd,otp" {
		t.Fatalf("ID token acr/amr %q", got)
	}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// TestServeAdminSignInNeedsTOTP is the same flow over plain HTTP against
// the real serve wiring (store, migrations, keyring-sealed secrets, the
// OTP limiter): no session before the second factor, then acr mfa.
func TestServeAdminSignInNeedsTOTP(t *testing.T) {
	base, conf := mfaServer(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	hiddenOf := func(body string) url.Values {
		v := url.Values{}
		for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
		return v
	}
	verifier := oauth2.GenerateVerifier()
	resp, _ := do(http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), nil)
	_, loginPage := do(http.MethodGet, base+resp.Header.Get("Location"), nil)
	form := hiddenOf(loginPage)
	form.Set("username", "root")
	form.Set("password", "an admin password for the browser")
	resp, enrol := do(http.MethodPost, base+oauth.PathLogin, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(enrol, `id="mfa-required"`) {
		t.Fatalf("admin password step: %d %.300s", resp.StatusCode, enrol)
	}
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if strings.Contains(ck.Name, "session") {
			t.Fatalf("session cookie %s before the second factor", ck.Name)
		}
	}
	_, rest, _ := strings.Cut(enrol, `<code id="secret">`)
	secret, _, _ := strings.Cut(rest, `</code>`)
	form = hiddenOf(enrol)
	form.Set("otp", nowCode(t, secret))
	resp, codes := do(http.MethodPost, base+oauth.PathLoginEnrol, form)
	if resp.StatusCode != http.StatusOK || strings.Count(codes, "<li><code>") != 10 {
		t.Fatalf("enrolment: %d %.300s", resp.StatusCode, codes)
	}
	_, rest, _ = strings.Cut(codes, `<a href="`)
	next, _, _ := strings.Cut(rest, `" id="continue"`)
	resp, _ = do(http.MethodGet, base+html.UnescapeString(next), nil)
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("after enrolment: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := idTokenACR(t, conf, cb.Query().Get("code"), verifier); got != oauth.ACRMFA+" pwd,otp" {
		t.Fatalf("ID token acr/amr %q", got)
	}
}
