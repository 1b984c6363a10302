package oauth_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/ratelimit"
)

const (
	tvID    = "tv"    // public, device_code + refresh_token
	kioskID = "kiosk" // confidential, device_code only (secret appSecret)
)

// deviceStart asks for a device code for client (public: no secret).
func (e *env) deviceStart(client, secret, scope string) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{"scope": {scope}}
	if secret == "" {
		form.Set("client_id", client)
		client = ""
	}
	st, body, _ := e.postJSON(oauth.PathDeviceAuthorization, form, client, secret)
	return st, body
}

// devicePoll is one token request of the device grant.
func (e *env) devicePoll(client, deviceCode string) (int, map[string]any) {
	e.t.Helper()
	st, body, _ := e.tokenRequest(url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {client}}, "", "")
	return st, body
}

// signIn signs the browser in through the device page's login redirect.
func (b *browser) deviceSignIn(userCode string) page {
	b.t.Helper()
	p := b.get(oauth.PathDevice + "?" + url.Values{"user_code": {userCode}}.Encode())
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, oauth.PathLogin+"?") {
		b.t.Fatalf("device page without session: %d %q", p.status, p.location)
	}
	lp := b.get(p.location)
	form := hidden(lp.body)
	form.Set("username", userName)
	form.Set("password", userPass)
	res := b.post(oauth.PathLogin, form)
	want := oauth.PathDevice + "?" + url.Values{"user_code": {userCode}}.Encode()
	if res.status != http.StatusSeeOther || res.location != want {
		b.t.Fatalf("login did not return to the device page: %d %q", res.status, res.location)
	}
	fp := b.get(res.location)
	if fp.status != http.StatusOK || !strings.Contains(fp.body, `name="user_code"`) {
		b.t.Fatalf("device form: %d %.300s", fp.status, fp.body)
	}
	return fp
}

// deviceDecide enters typed on the signed-in device page, checks the
// confirmation page and submits decision ("allow" or "deny").
func (b *browser) deviceDecide(typed, decision string) page {
	b.t.Helper()
	fp := b.get(oauth.PathDevice)
	form := hidden(fp.body)
	form.Set("user_code", typed)
	cp := b.post(oauth.PathDevice, form)
	if cp.status != http.StatusOK || !strings.Contains(cp.body, "someone may have sent you this code") {
		b.t.Fatalf("confirmation page: %d %.400s", cp.status, cp.body)
	}
	form = hidden(cp.body)
	form.Set("decision", decision)
	return b.post(oauth.PathDevice, form)
}

// TestDeviceFlowOAuth2Client: golang.org/x/oauth2's device support gets
// tokens once the user allowed the code on the page (RFC 8628 end to end),
// and the tokens are the user's.
func TestDeviceFlowOAuth2Client(t *testing.T) {
	forEachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := &oauth2.Config{ClientID: tvID, Scopes: []string{"openid", "notes:read"},
			Endpoint: oauth2.Endpoint{DeviceAuthURL: e.issuer + oauth.PathDeviceAuthorization, TokenURL: e.issuer + oauth.PathToken, AuthStyle: oauth2.AuthStyleInParams}}
		da, err := cfg.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(da.UserCode) != 9 || da.UserCode[4] != '-' || da.VerificationURI != e.issuer+oauth.PathDevice ||
			da.VerificationURIComplete != e.issuer+oauth.PathDevice+"?user_code="+da.UserCode || da.Interval != 5 || time.Until(da.Expiry) > 10*time.Minute {
			t.Fatalf("device authorization response %+v", da)
		}
		if len(da.DeviceCode) < 43 {
			t.Fatalf("device_code of %d characters: under 256 bits", len(da.DeviceCode))
		}
		b := e.browser()
		// Typed in lower case without the dash: accepted (RFC 8628 §6.1).
		b.deviceSignIn(da.UserCode)
		done := b.deviceDecide(strings.ToLower(strings.ReplaceAll(da.UserCode, "-", "")), "allow")
		if done.status != http.StatusOK || !strings.Contains(done.body, "Device connected") {
			t.Fatalf("allow: %d %.300s", done.status, done.body)
		}
		tok, err := cfg.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
			t.Fatalf("want a refresh token and an id token: %+v", tok)
		}
		claims, err := verifierFor(t, e, apiAud).Verify(ctx, tok.AccessToken)
		if err != nil || claims.Subject != e.userID || !claims.HasScope("notes:read") {
			t.Fatalf("access token %+v %v", claims, err)
		}
		if n := len(e.events(audit.ActionDeviceDecision)); n != 1 {
			t.Fatalf("%d decision events", n)
		}
	})
}

// deviceEnv is a server with a fake clock and the given device limiter.
func deviceEnv(t *testing.T, limiter *ratelimit.Limiter) (*env, *testkit.Clock) {
	clock := testkit.NewClock(time.Now())
	return newEnvOpts(t, "sqlite", func(o *oauth.Options) { o.Now = clock.Now; o.DeviceLimiter = limiter }), clock
}

func startDevice(t *testing.T, e *env, client, secret string) (deviceCode, userCode string) {
	t.Helper()
	st, body := e.deviceStart(client, secret, "notes:read")
	mustStatus(t, st, http.StatusOK, "device authorization", body)
	return str(body, "device_code"), str(body, "user_code")
}

func wantError(t *testing.T, st int, body map[string]any, code, what string) {
	t.Helper()
	if st != http.StatusBadRequest || str(body, "error") != code {
		t.Fatalf("%s: %d %v, want 400 %s", what, st, body, code)
	}
}

// TestDevicePollingAttacks: polling too fast gets slow_down and a longer
// interval; a denied code gives access_denied; an expired one
// expired_token; a code redeemed twice gives tokens once (and revokes
// them); another client's code is refused without touching it.
func TestDevicePollingAttacks(t *testing.T) {
	t.Run("slow_down", func(t *testing.T) {
		e, clock := deviceEnv(t, nil)
		dc, _ := startDevice(t, e, tvID, "")
		st, body := e.devicePoll(tvID, dc)
		wantError(t, st, body, "authorization_pending", "first poll")
		clock.Add(time.Second)
		st, body = e.devicePoll(tvID, dc)
		wantError(t, st, body, "slow_down", "poll after 1 s")
		clock.Add(6 * time.Second) // on time for 5 s, too soon for the raised 10 s
		st, body = e.devicePoll(tvID, dc)
		wantError(t, st, body, "slow_down", "poll after 6 s of a raised interval")
		clock.Add(15 * time.Second)
		st, body = e.devicePoll(tvID, dc)
		wantError(t, st, body, "authorization_pending", "poll on time")
		slowed := 0
		for _, ev := range e.events(audit.ActionToken) {
			if ev.Reason == "slow_down" {
				slowed++
			}
		}
		if slowed != 2 {
			t.Fatalf("%d slow_down events, want 2", slowed)
		}
	})
	t.Run("denied", func(t *testing.T) {
		e, _ := deviceEnv(t, nil)
		dc, uc := startDevice(t, e, tvID, "")
		b := e.browser()
		b.deviceSignIn(uc)
		if p := b.deviceDecide(uc, "deny"); p.status != http.StatusOK || !strings.Contains(p.body, "Device denied") {
			t.Fatalf("deny: %d %.200s", p.status, p.body)
		}
		st, body := e.devicePoll(tvID, dc)
		wantError(t, st, body, "access_denied", "denied code")
	})
	t.Run("expired", func(t *testing.T) {
		e, clock := deviceEnv(t, nil)
		dc, uc := startDevice(t, e, tvID, "")
		clock.Add(oauth.DeviceCodeTTL)
		st, body := e.devicePoll(tvID, dc)
		wantError(t, st, body, "expired_token", "expired code")
		// Nor can the user approve it any more.
		b := e.browser()
		b.deviceSignIn(uc)
		form := hidden(b.get(oauth.PathDevice).body)
		form.Set("user_code", uc)
		if p := b.post(oauth.PathDevice, form); p.status != http.StatusBadRequest || !strings.Contains(p.body, "not valid or has expired") {
			t.Fatalf("expired code on the page: %d %.200s", p.status, p.body)
		}
	})
	t.Run("redeemed-twice", func(t *testing.T) {
		e, clock := deviceEnv(t, nil)
		dc, uc := startDevice(t, e, tvID, "")
		b := e.browser()
		b.deviceSignIn(uc)
		b.deviceDecide(uc, "allow")
		st, body := e.devicePoll(tvID, dc)
		mustStatus(t, st, http.StatusOK, "first redemption", body)
		clock.Add(time.Minute)
		st, again := e.devicePoll(tvID, dc)
		wantError(t, st, again, "invalid_grant", "second redemption")
		// The copy's holder also cost the first tokens: the family is revoked.
		st, ref, _ := e.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(body, "refresh_token")}, "client_id": {tvID}}, "", "")
		wantError(t, st, ref, "invalid_grant", "refresh after a replayed device code")
		if len(e.events(audit.ActionCodeReplay)) != 1 {
			t.Fatal("replay not audited")
		}
	})
	t.Run("other-client", func(t *testing.T) {
		e, clock := deviceEnv(t, nil)
		dc, uc := startDevice(t, e, tvID, "")
		b := e.browser()
		b.deviceSignIn(uc)
		b.deviceDecide(uc, "allow")
		st, body, _ := e.tokenRequest(url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {dc}}, kioskID, appSecret)
		wantError(t, st, body, "invalid_grant", "another client's device code")
		clock.Add(time.Second) // sooner than the interval after the kiosk's poll: no slow_down, that poll was not recorded
		st, body = e.devicePoll(tvID, dc)
		mustStatus(t, st, http.StatusOK, "the right client after the refused one", body)
	})
	t.Run("client-without-grant", func(t *testing.T) {
		e, _ := deviceEnv(t, nil)
		st, body := e.deviceStart(webID, "", "openid")
		wantError(t, st, body, "unauthorized_client", "device authorization by a client without the grant")
		st, body, _ = e.tokenRequest(url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {"x"}}, svcID, svcSecret)
		wantError(t, st, body, "unauthorized_client", "device token request by a client without the grant")
		st, body = e.deviceStart(tvID, "", "notes:write")
		wantError(t, st, body, "invalid_scope", "a scope the client may not have")
		st, body = e.deviceStart(kioskID, "wrong-secret-wrong-secret-wrong-secret", "notes:read")
		if st != http.StatusUnauthorized || str(body, "error") != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", st, body)
		}
	})
}

// TestDeviceUserCodeGuessing: wrong codes are audited and spend the
// address's budget until the page answers 429; the global budget stops
// a guesser with many addresses.
func TestDeviceUserCodeGuessing(t *testing.T) {
	guess := func(t *testing.T, e *env, b *browser, code string, headers ...string) page {
		t.Helper()
		form := hidden(b.get(oauth.PathDevice).body)
		form.Set("user_code", code)
		return b.post(oauth.PathDevice, form, headers...)
	}
	t.Run("per-ip", func(t *testing.T) {
		l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil),
			ratelimit.Limit{Name: oauth.LimitDeviceIP, Rate: 3, Period: time.Hour, Burst: 3}, ratelimit.Limit{Name: oauth.LimitDeviceGlobal, Rate: 100, Period: time.Hour, Burst: 100})
		if err != nil {
			t.Fatal(err)
		}
		e, _ := deviceEnv(t, l)
		_, uc := startDevice(t, e, tvID, "")
		b := e.browser()
		b.deviceSignIn(uc)
		for i, code := range []string{"BBBB-BBBB", "CCCC-CCCC", "not a code"} {
			if p := guess(t, e, b, code); p.status != http.StatusBadRequest {
				t.Fatalf("guess %d: %d", i, p.status)
			}
		}
		p := guess(t, e, b, uc) // the right code, but the budget is spent
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
			t.Fatalf("after the budget: %d %q", p.status, p.header.Get("Retry-After"))
		}
		wrong, limited := 0, 0
		for _, ev := range e.events(audit.ActionDeviceVerify) {
			switch ev.Reason {
			case "wrong_user_code":
				wrong++
			case "rate_limited_ip":
				limited++
			}
		}
		if wrong != 3 || limited != 1 {
			t.Fatalf("audited %d wrong codes and %d refusals, want 3 and 1", wrong, limited)
		}
	})
	t.Run("global", func(t *testing.T) {
		l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil),
			ratelimit.Limit{Name: oauth.LimitDeviceIP, Rate: 100, Period: time.Hour, Burst: 100}, ratelimit.Limit{Name: oauth.LimitDeviceGlobal, Rate: 2, Period: time.Hour, Burst: 2})
		if err != nil {
			t.Fatal(err)
		}
		e, _ := deviceEnv(t, l)
		_, uc := startDevice(t, e, tvID, "")
		b := e.browser()
		b.deviceSignIn(uc)
		// The harness serves without trusted proxies, so every request is
		// one address: the global bucket is reached first because its
		// burst is lower; the audit reason tells which limit refused.
		guess(t, e, b, "BBBB-BBBB")
		guess(t, e, b, "CCCC-CCCC")
		if p := guess(t, e, b, uc); p.status != http.StatusTooManyRequests {
			t.Fatalf("after the global budget: %d", p.status)
		}
		evs := e.events(audit.ActionDeviceVerify)
		if last := evs[len(evs)-1]; last.Reason != "rate_limited_global" {
			t.Fatalf("refusal reason %q", last.Reason)
		}
	})
}

// TestDevicePageCSRF: a cross-site post and a post without the form's
// token are refused, and the request stays pending.
func TestDevicePageCSRF(t *testing.T) {
	e, _ := deviceEnv(t, nil)
	dc, uc := startDevice(t, e, tvID, "")
	b := e.browser()
	b.deviceSignIn(uc)
	form := url.Values{"user_code": {uc}, "decision": {"allow"}}
	if p := b.post(oauth.PathDevice, form); p.status != http.StatusForbidden {
		t.Fatalf("post without CSRF token: %d", p.status)
	}
	form = hidden(b.get(oauth.PathDevice).body)
	form.Set("user_code", uc)
	form.Set("decision", "allow")
	if p := b.post(oauth.PathDevice, form, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", p.status)
	}
	st, body := e.devicePoll(tvID, dc)
	wantError(t, st, body, "authorization_pending", "after refused posts")
}

// TestDeviceLoginReturn: the login page returns only to the device page
// itself; a return value naming another place is refused.
func TestDeviceLoginReturn(t *testing.T) {
	e, _ := deviceEnv(t, nil)
	b := e.browser()
	for _, ret := range []string{"//evil.example/device", "/device/../account", "/devicex", "/device?user_code=A&next=https://evil.example", "/device?user_code=" + strings.Repeat("B", 40)} {
		if p := b.get(oauth.PathLogin + "?" + url.Values{"return": {ret}}.Encode()); p.status != http.StatusBadRequest {
			t.Errorf("return %q: %d", ret, p.status)
		}
	}
	if p := b.get(oauth.PathLogin + "?" + url.Values{"return": {"/device?user_code=BCDF-GHJK"}}.Encode()); p.status != http.StatusOK {
		t.Errorf("device return refused: %d", p.status)
	}
}

// TestDeviceGuessingLimitAcrossInstances: on Redis, the per-address
// user-code budget is one for the fleet: guesses spread over two
// instances (each with its own store and limiter) are counted together.
// The browser connects from a random loopback address so the bucket is
// this run's own (Redis outlives test runs).
func TestDeviceGuessingLimitAcrossInstances(t *testing.T) {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the fleet-wide device limit test")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { _ = rc.Close() })
	rl := config.RateLimits{
		DeviceCodePerIP:  config.RateLimit{Rate: 1, Period: config.Duration(time.Hour), Burst: 3},
		DeviceCodeGlobal: config.RateLimit{Rate: 1000000, Period: config.Duration(time.Second), Burst: 1000000},
	}
	local := &net.TCPAddr{IP: net.IPv4(127, byte(1+mrand.IntN(250)), byte(mrand.IntN(256)), byte(1+mrand.IntN(250)))}
	var browsers []*browser
	for range 2 {
		l, err := oauth.NewDeviceLimiter(rl, rc, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := deviceEnv(t, l)
		_, uc := startDevice(t, e, tvID, "")
		b := e.browser()
		b.client.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}
		b.deviceSignIn(uc)
		browsers = append(browsers, b)
	}
	guess := func(b *browser) int {
		form := hidden(b.get(oauth.PathDevice).body)
		form.Set("user_code", "BBBB-BBBB")
		return b.post(oauth.PathDevice, form).status
	}
	got := []int{guess(browsers[0]), guess(browsers[1]), guess(browsers[0]), guess(browsers[1])}
	if fmt.Sprint(got) != "[400 400 400 429]" {
		t.Fatalf("statuses %v, want [400 400 400 429]: the budget is not shared", got)
	}
}

// TestDevicePageEscapesTypedCode: the code typed or put in the link is
// shown back only escaped (no script through verification_uri_complete).
func TestDevicePageEscapesTypedCode(t *testing.T) {
	e, _ := deviceEnv(t, nil)
	b := e.browser()
	evil := `"><script>alert(1)</script>`
	p := b.deviceSignIn(evil)
	if strings.Contains(p.body, "<script>") || !strings.Contains(p.body, "&#34;&gt;&lt;script&gt;") {
		t.Fatalf("typed code not escaped: %.600s", p.body)
	}
	form := hidden(p.body)
	form.Set("user_code", evil)
	if r := b.post(oauth.PathDevice, form); r.status != http.StatusBadRequest || strings.Contains(r.body, "<script>") {
		t.Fatalf("posted code: %d %.300s", r.status, r.body)
	}
}

// TestDeviceConfirmationShowsClientAndScopes: the confirmation page names
// the client by its display name (with its id), its logo and policy link,
// and the scopes by their descriptions, all as escaped text, so a user can
// tell what they allow (RFC 8628 §5.4).
func TestDeviceConfirmationShowsClientAndScopes(t *testing.T) {
	key := testMasterKey(t).Derive(kms.LabelClientSecret)
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		named := oauth.ClientFromConfig(config.Client{ID: "telly", Public: true, GrantTypes: []string{config.GrantDeviceCode},
			Scopes: []string{"notes:read"}, DisplayName: `Living-room <script>alert(1)</script> TV`,
			LogoURI: "https://cdn.example.test/tv.png", PolicyURI: "https://tv.example.test/privacy"}, "", key)
		o.Clients = oauth.NewRegistry([]*oauth.Client{named}, o.Store, key, nil)
		o.ScopeDescriptions = map[string]string{"notes:read": `Read your notes <b>now</b>`}
	})
	st, body := e.deviceStart("telly", "", "notes:read")
	mustStatus(t, st, http.StatusOK, "device authorization", body)
	b := e.browser()
	b.deviceSignIn(str(body, "user_code"))
	fp := b.get(oauth.PathDevice)
	form := hidden(fp.body)
	form.Set("user_code", str(body, "user_code"))
	cp := b.post(oauth.PathDevice, form)
	for _, want := range []string{
		`id="device-client">Living-room &lt;script&gt;alert(1)&lt;/script&gt; TV</strong>`,
		`id="client-id">(telly)</small>`,
		`<img src="https://cdn.example.test/tv.png"`,
		`href="https://tv.example.test/privacy"`,
		`Read your notes &lt;b&gt;now&lt;/b&gt; <small class="muted"><code>notes:read</code></small>`,
	} {
		if !strings.Contains(cp.body, want) {
			t.Fatalf("confirmation page lacks %q:\n%s", want, cp.body)
		}
	}
	if strings.Contains(cp.body, "<script>alert") {
		t.Fatal("the display name reached the page as markup")
	}
	if csp := cp.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https://cdn.example.test") {
		t.Fatalf("CSP does not allow the logo's origin only: %q", csp)
	}
}

// TestDeviceRequireMFAStepsUp: a require_mfa client's device request is not
// confirmed from a password-only session: the page asks for the second
// factor (here its set-up, the user has none) before any decision.
func TestDeviceRequireMFAStepsUp(t *testing.T) {
	key := testMasterKey(t).Derive(kms.LabelClientSecret)
	e := newEnvOpts(t, "sqlite", func(o *oauth.Options) {
		c := oauth.ClientFromConfig(config.Client{ID: "strict-tv", Public: true, GrantTypes: []string{config.GrantDeviceCode},
			Scopes: []string{"notes:read"}, RequireMFA: true}, "", key)
		o.Clients = oauth.NewRegistry([]*oauth.Client{c}, o.Store, key, nil)
	})
	st, body := e.deviceStart("strict-tv", "", "notes:read")
	mustStatus(t, st, http.StatusOK, "device authorization", body)
	b := e.browser()
	b.deviceSignIn(str(body, "user_code"))
	form := hidden(b.get(oauth.PathDevice).body)
	form.Set("user_code", str(body, "user_code"))
	for _, decision := range []string{"", "allow"} {
		form.Set("decision", decision)
		p := b.post(oauth.PathDevice, form)
		if strings.Contains(p.body, "someone may have sent you this code") || !strings.Contains(p.body, `id="mfa-required"`) {
			t.Fatalf("decision %q from a password-only session: %d %.300s", decision, p.status, p.body)
		}
	}
	if st, poll := e.devicePoll("strict-tv", str(body, "device_code")); st != http.StatusBadRequest || str(poll, "error") != "authorization_pending" {
		t.Fatalf("poll after refused decisions: %d %v", st, poll)
	}
}
