package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestBrowserPAR runs `rampart serve` with
// oauth.require_pushed_authorization_requests: discovery publishes it, a
// plain authorization request is sent back with invalid_request, and a
// pushed one is completed in headless Chromium (sign-in and consent carry
// only the request_uri) and redeemed by golang.org/x/oauth2.
func TestBrowserPAR(t *testing.T) {
	chromiumPath(t) // skip before any server starts
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>callback</title><p id=done>signed in</p>")
	}))
	defer callback.Close()
	cbURL := callback.URL + "/callback"
	base, cfgPath := authServer(t, fmt.Sprintf(`oauth:
  require_pushed_authorization_requests: true
clients:
  - id: spa
    public: true
    grant_types: [authorization_code]
    redirect_uris: ['%s']
    scopes: [openid, notes:read]
`, cbURL))
	if code, out, errOut := cli(t, "a long browser password\n", "user", "create", "--config", cfgPath, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}
	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["require_pushed_authorization_requests"] != true || doc["pushed_authorization_request_endpoint"] != base+"/oauth2/par" {
		t.Fatalf("discovery %v", doc)
	}

	conf := oauth2.Config{ClientID: "spa", RedirectURL: cbURL, Scopes: []string{"openid", "notes:read"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token"}}
	verifier := oauth2.GenerateVerifier()
	plain := conf.AuthCodeURL("browser-state", oauth2.S256ChallengeOption(verifier))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(plain)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, cbURL) || !strings.Contains(loc, "error=invalid_request") {
		t.Fatalf("plain request with PAR required: %d %q", resp.StatusCode, loc)
	}

	u, _ := url.Parse(plain)
	resp, err = http.PostForm(base+"/oauth2/par", u.Query())
	if err != nil {
		t.Fatal(err)
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&pushed)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || pushed.ExpiresIn != 60 {
		t.Fatalf("push: %d %+v", resp.StatusCode, pushed)
	}
	authURL := base + "/oauth2/authorize?" + url.Values{"client_id": {"spa"}, "request_uri": {pushed.RequestURI}}.Encode()

	tctx := browserCtx(t, authURL)
	ctx := tctx
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a long browser password"),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#allow`)),
		chromedp.Click(chromedp.CSS(`#allow`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser login and consent: %v (at %s)", err, loc)
	}
	location, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, cbURL+"?") {
		t.Fatalf("ended at %q", location)
	}
	q := cb.Query()
	if q.Get("state") != "browser-state" || q.Get("iss") != base || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	// The same request_uri gives no second code.
	resp, err = noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed request_uri: %d", resp.StatusCode)
	}
}
