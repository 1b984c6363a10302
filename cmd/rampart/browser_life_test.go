package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestBrowserLoginErrorFocus: after a wrong password, Chromium puts the
// focus in the password field (server-side autofocus, no script).
func TestBrowserLoginErrorFocus(t *testing.T) {
	base, cfgPath := authServer(t, "")
	if code, out, errOut := cli(t, "a long browser password\n", "user", "create", "--config", cfgPath, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}
	ctx := browserCtx(t, base+"/login")
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not the password"),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error`)),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if focused != "password" {
		t.Fatalf("focus is on %q after a wrong password, want the password field", focused)
	}
}

// TestBrowserForcedPasswordChange: the dev-mode admin signs in with the
// printed one-time password in Chromium, is made to set up TOTP (every
// admin must) and then to choose a new password, and lands on the
// account page signed in.
func TestBrowserForcedPasswordChange(t *testing.T) {
	dir := t.TempDir()
	port := testkit.FreePort(t)
	cfg := config.Dev()
	cfg.DataDir = dir
	cfg.Store.DSN = filepath.Join(dir, "rampart.db")
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.CA.Listen = "127.0.0.1:0" // not the dev default 8443: tests run side by side
	cfg.HTTP.TLS.Mode = config.TLSOff
	cfg.Issuer = fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg.Log.Level = "error"
	var out bytes.Buffer
	sctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(sctx, cfg, &out, io.Discard, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })
	i := strings.Index(out.String(), "one-time password")
	if i < 0 {
		t.Fatalf("no admin password printed: %s", out.String())
	}
	pw := strings.Fields(out.String()[i+len("one-time password"):])[0]
	ctx := browserCtx(t, cfg.Issuer+"/login")
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#mfa-required`)),
	); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser: %v (at %s)", err, loc)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#secret`)))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#otp`), nowCode(t, strings.TrimSpace(secret))),
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
		chromedp.Click(chromedp.CSS(`#continue`)),
		chromedp.WaitVisible(chromedp.CSS(`#forced`)),
		chromedp.SendKeys(chromedp.CSS(`#current_password`), pw),
		chromedp.SendKeys(chromedp.CSS(`#new_password`), "the admin's own passphrase"),
		chromedp.SendKeys(chromedp.CSS(`#new_password_again`), "the admin's own passphrase"),
		chromedp.Click(chromedp.CSS(`#change`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
	); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser: %v (at %s)", err, loc)
	}
	name, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#username`)))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if name != "admin" {
		t.Fatalf("account page for %q", name)
	}
}

// TestBrowserRPLogoutConfirm: in Chromium, an RP's logout link without a
// hint shows the confirmation; confirming ends the session and returns to
// the registered post-logout URI with state.
func TestBrowserRPLogoutConfirm(t *testing.T) {
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>bye</title><p id=bye>signed out</p>")
	}))
	defer callback.Close()
	bye := callback.URL + "/bye"
	base, cfgPath := authServer(t, fmt.Sprintf(`clients:
  - id: spa
    public: true
    display_name: Notes
    grant_types: [authorization_code]
    redirect_uris: ['%s/cb']
    post_logout_redirect_uris: ['%s']
    scopes: [openid]
`, callback.URL, bye))
	if code, out, errOut := cli(t, "a long browser password\n", "user", "create", "--config", cfgPath, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}
	ctx := browserCtx(t, base+"/login")
	logout := base + "/oauth2/logout?" + url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {bye}, "state": {"z9"}}.Encode()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a long browser password"),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#sign-out`)),
		chromedp.Navigate(logout),
		chromedp.WaitVisible(chromedp.CSS(`#logout`)),
		chromedp.Click(chromedp.CSS(`#logout`)),
		chromedp.WaitVisible(chromedp.CSS(`#bye`)),
	); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser: %v (at %s)", err, loc)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != bye+"?state=z9" {
		t.Fatalf("ended at %q: %v", loc, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.CSS(`#sign-in`))); err != nil {
		t.Fatalf("still signed in after logout: %v", err)
	}
}
