package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// authServer runs `serve` with extra YAML on a fixed loopback port so the
// issuer is the real URL; it returns the base URL and config path.
func authServer(t *testing.T, extra string) (string, string) {
	return authServerTLS(t, extra, config.TLSOff)
}

// authServerTLS is authServer with a TLS mode (off or auto).
func authServerTLS(t *testing.T, extra, tlsMode string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyHex+"\n")
	port := testkit.FreePort(t) // the issuer must name the real port before the server starts
	scheme := "https"
	if tlsMode == config.TLSOff {
		scheme = "http"
	}
	base := fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
	body := fmt.Sprintf("issuer: %s\ndata_dir: %s\nmaster_key_file: %s\nhttp: {listen: '127.0.0.1:%d', tls: {mode: '%s'}}\nlog: {level: warn}\n%s",
		base, filepath.Join(dir, "data"), keyFile, port, tlsMode, extra)
	path := writeFile(t, dir, "rampart.yaml", body)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, io.Discard, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() { cancel(); <-done })
	return base, path
}

// chromiumPath finds Debian's chromium (installed by .ci/run).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{os.Getenv("RAMPART_TEST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: install chromium (apt-get install chromium) or set RAMPART_TEST_CHROMIUM to a Chrome binary")
	return ""
}

// browserCtx starts headless Chromium (skipping without one) and returns
// a context for steps with a timeout.
func browserCtx(t *testing.T, first string) context.Context {
	t.Helper()
	chrome := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(first)); err != nil { // starts the browser, no timeout
		t.Fatalf("browser: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelT)
	return tctx
}

// TestBrowserLoginConsentCode drives the real login and consent pages in
// headless Chromium: sign in, allow, and land on the client's callback
// with a code, which a real OAuth client then redeems.
func TestBrowserLoginConsentCode(t *testing.T) {
	chrome := chromiumPath(t)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>callback</title><p id=done>signed in</p>")
	}))
	defer callback.Close()
	cbURL := callback.URL + "/callback"
	base, cfgPath := authServer(t, fmt.Sprintf(`clients:
  - id: spa
    public: true
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ['%s']
    scopes: [openid, profile, notes:read]
`, cbURL))
	if code, out, errOut := cli(t, "a long browser password\n", "user", "create", "--config", cfgPath, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}

	conf := oauth2.Config{ClientID: "spa", RedirectURL: cbURL, Scopes: []string{"openid", "notes:read"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("browser-state", oauth2.S256ChallengeOption(verifier))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first call starts the browser; its context carries no timeout
	// (a timeout there would stop the whole browser, see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate(authURL)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	fail := func(step string, err error) {
		t.Helper()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser %s: %v (at %s)", step, err, loc)
	}
	// A wrong password first: the page says so without naming the cause.
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not the password"),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error`)),
	); err != nil {
		fail("wrong password", err)
	}
	loginErr, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#login-error`)))
	if err != nil {
		fail("error text", err)
	}
	if err := chromedp.Do(tctx,
		chromedp.SetValue(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a long browser password"),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#allow`)),
		chromedp.Click(chromedp.CSS(`#allow`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		fail("login and consent", err)
	}
	location, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil {
		fail("location", err)
	}
	if !strings.Contains(loginErr, "Invalid username or password") {
		t.Fatalf("login error text %q", loginErr)
	}
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, cbURL+"?") {
		t.Fatalf("ended at %q", location)
	}
	q := u.Query()
	if q.Get("state") != "browser-state" || q.Get("iss") != base || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("token response %+v", tok)
	}
}
