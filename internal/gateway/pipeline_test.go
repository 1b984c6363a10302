package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/jwtauth"
)

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProxyForwardsVerifiedIdentity: a valid token reaches the upstream
// with the canonical path, the identity headers and an assertion the
// upstream verifies against the JWKS; the token itself does not.
func TestProxyForwardsVerifiedIdentity(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("notes", "/api/notes", []string{up.srv.URL}, selfAuth("notes:read"))}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	resp := h.do(t, "GET", "/api/notes/7?x=1", h.token(t, nil))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	if s := resp.Header.Get("Server"); s != "" {
		t.Errorf("upstream Server header passed through: %q", s)
	}
	got := up.last(t)
	if got.Path != "/api/notes/7" || got.RawQuery != "x=1" {
		t.Errorf("upstream got %q ? %q", got.Path, got.RawQuery)
	}
	if got.AssertionErr != nil {
		t.Fatalf("upstream refused the assertion: %v", got.AssertionErr)
	}
	a := got.Assertion
	if a.Subject != "alice" || a.ClientID != "web" || a.Route != "notes" || a.Audience != up.srv.URL {
		t.Errorf("assertion = %+v", a)
	}
	if got.Header.Get(HeaderSubject) != "alice" || got.Header.Get(HeaderClient) != "web" ||
		got.Header.Get(HeaderScopes) != "notes:read notes:write" {
		t.Errorf("identity headers = %v", got.Header)
	}
	if v := got.Header.Get("Authorization"); v != "" {
		t.Errorf("Authorization forwarded: %q", v)
	}
	if got.Header.Get("X-Forwarded-For") != "127.0.0.1" || got.Header.Get("X-Forwarded-Proto") != "http" ||
		!strings.HasPrefix(got.Header.Get("Forwarded"), "for=127.0.0.1") {
		t.Errorf("forwarding headers = %v", got.Header)
	}
}

// TestAssertionReplayAndRetargetRefused: the upstream refuses an
// assertion presented twice, and one minted for another upstream.
func TestAssertionReplayAndRetargetRefused(t *testing.T) {
	h := newHarness(t, nil)
	a, b := newEcho(t, h), newEcho(t, h)
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("notes", "/api/notes", []string{a.srv.URL}, selfAuth())}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	if resp := h.do(t, "GET", "/api/notes", h.token(t, nil)); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	stolen := a.last(t).Header.Get(HeaderAssertion)
	if _, err := a.av.VerifyAssertion(context.Background(), stolen); jwtauth.ReasonOf(err) != jwtauth.ReasonAssertionReplay {
		t.Errorf("replayed assertion: %v, want assertion_replay", err)
	}
	if _, err := b.av.VerifyAssertion(context.Background(), stolen); jwtauth.ReasonOf(err) != jwtauth.ReasonAudience {
		t.Errorf("re-targeted assertion: %v, want wrong_audience", err)
	}
}

// TestAuthRefusals performs the token attacks at the edge: each is refused
// with the RFC 6750 answer, never reaches the upstream, and is counted and
// audited with the canonical path and client address.
func TestAuthRefusals(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	ra := selfAuth("notes:read")
	ra.Claims = map[string]string{"tenant": "acme"}
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("notes", "/api/notes", []string{up.srv.URL}, ra)}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	ok := map[string]any{"tenant": "acme"}
	revoked := h.token(t, map[string]any{"tenant": "acme", "jti": "revoked-1"})
	if err := h.deny.Add(context.Background(), "revoked-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h.token(t, ok), ".")
	cases := []struct {
		name, token string
		status      int
		challenge   string
	}{
		{"missing", "", 401, `Bearer realm="rampart-gateway"`},
		{"garbage", "not-a-jwt", 401, `error="invalid_token"`},
		{"alg-none", "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".", 401, `error="invalid_token"`},
		{"forged-signature", parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:], 401, `error="invalid_token"`},
		{"expired", h.token(t, map[string]any{"tenant": "acme", "exp": time.Now().Add(-time.Hour).Unix()}), 401, `error="invalid_token"`},
		{"wrong-issuer", h.token(t, map[string]any{"tenant": "acme", "iss": "https://evil.example"}), 401, `error="invalid_token"`},
		{"wrong-audience", h.token(t, map[string]any{"tenant": "acme", "aud": "https://billing.example.test"}), 401, `error="invalid_token"`},
		{"no-scope", h.token(t, map[string]any{"tenant": "acme", "scope": "notes:write"}), 403, `error="insufficient_scope"`},
		{"wrong-tenant", h.token(t, map[string]any{"tenant": "globex"}), 401, `error="invalid_token"`},
		{"revoked", revoked, 401, `error="invalid_token"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := up.count()
			resp := h.do(t, "GET", "/api/notes/1", c.token)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if w := strings.Join(resp.Header.Values("WWW-Authenticate"), "; "); !strings.Contains(w, c.challenge) {
				t.Errorf("WWW-Authenticate %q lacks %q", w, c.challenge)
			}
			if up.count() != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}
	if resp := h.do(t, "GET", "/api/notes/1", h.token(t, ok)); resp.StatusCode != 200 {
		t.Fatalf("valid token: %d", resp.StatusCode)
	}
	ev := h.audit.find(audit.ActionGatewayDenied)
	if len(ev) != len(cases) {
		t.Fatalf("%d denials audited, want %d", len(ev), len(cases))
	}
	for _, e := range ev {
		if e.Details["path"] != "/api/notes/1" || e.ClientAddr != "127.0.0.1" || e.Reason == "" || e.Target != "route:notes" {
			t.Errorf("audit event %+v", e)
		}
	}
	if n := h.counter(t, "rampart_gateway_auth_failures_total", "route", "notes", "reason", "revoked"); n != 1 {
		t.Errorf("revoked failures counted %v", n)
	}
}

// TestNoRouteAndBadPath: deny by default, and no guessing at paths.
func TestNoRouteAndBadPath(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("pub", "/public", []string{up.srv.URL}, nil, "GET")}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]int{"/admin": 404, "/public/../admin": 400, "/public/%2e%2e/admin": 400,
		"/public%2fadmin": 400, "/public/x;y": 400, "/public/%00": 400} {
		resp := h.do(t, "GET", target, "")
		if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d problem+json", target, resp.StatusCode, resp.Header.Get("Content-Type"), want)
		}
	}
	if resp := h.doBody(t, "POST", "/public", "", strings.NewReader("{}")); resp.StatusCode != 404 {
		t.Errorf("method not on the route: %d, want 404", resp.StatusCode)
	}
	if up.count() != 0 {
		t.Error("a refused request reached the upstream")
	}
	// auth: none still carries an assertion, with no subject.
	if resp := h.do(t, "GET", "/public/x", ""); resp.StatusCode != 200 {
		t.Fatalf("public route: %d", resp.StatusCode)
	}
	if got := up.last(t); got.AssertionErr != nil || got.Assertion.Subject != "" || got.Header.Get(HeaderSubject) != "" {
		t.Errorf("public route assertion %+v, %v", got.Assertion, got.AssertionErr)
	}
}

// TestRouteWithoutAuthRefusedAtLoad: a route with no auth key is refused by
// Check (config check, serve) and by a reload, which keeps the old table.
func TestRouteWithoutAuthRefusedAtLoad(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	good := route("notes", "/api/notes", []string{up.srv.URL}, nil)
	h.cfg.Gateway.Routes = []config.GatewayRoute{good}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Auth = config.RouteAuth{}
	next := &config.Config{Issuer: hIssuer, Gateway: &config.Gateway{Routes: []config.GatewayRoute{bad}}}
	if err := Check(next); err == nil {
		t.Fatal("Check accepted a route without auth")
	}
	if err := h.gw.Reload(context.Background(), next, "test"); err == nil {
		t.Fatal("Reload accepted a route without auth")
	}
	if resp := h.do(t, "GET", "/api/notes", ""); resp.StatusCode != 200 {
		t.Errorf("old table not kept: %d", resp.StatusCode)
	}
	if n := h.counter(t, "rampart_gateway_config_reloads_total", "outcome", "failure"); n != 1 {
		t.Errorf("failed reloads counted %v", n)
	}
	if ev := h.audit.find(audit.ActionGatewayReload); len(ev) != 1 || ev[0].Outcome != audit.OutcomeFailure {
		t.Errorf("reload audit %+v", ev)
	}
}

// TestRateLimited429: the route's composed limits answer 429 with
// Retry-After and the RateLimit fields, per subject.
func TestRateLimited429(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	rc := route("notes", "/api/notes", []string{up.srv.URL}, selfAuth())
	rc.RateLimits = []config.RouteLimit{
		{Name: "per-user", Key: "subject", Rate: 2, Period: config.Duration(time.Minute), Burst: 2},
		{Name: "per-ip", Key: "client_ip", Rate: 100, Period: config.Duration(time.Minute), Burst: 100},
	}
	h.cfg.Gateway.Routes = []config.GatewayRoute{rc}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	alice, bob := h.token(t, nil), h.token(t, map[string]any{"sub": "bob"})
	for i := 0; i < 2; i++ {
		if resp := h.do(t, "GET", "/api/notes", alice); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	resp := h.do(t, "GET", "/api/notes", alice)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit") == "" ||
		resp.Header.Get("RateLimit-Policy") == "" {
		t.Fatalf("third request: %d %v", resp.StatusCode, resp.Header)
	}
	// Another token of the same subject shares the bucket; another subject does not.
	if resp := h.do(t, "GET", "/api/notes", h.token(t, nil)); resp.StatusCode != 429 {
		t.Errorf("fresh token of the same subject: %d", resp.StatusCode)
	}
	if resp := h.do(t, "GET", "/api/notes", bob); resp.StatusCode != 200 {
		t.Errorf("bob: %d", resp.StatusCode)
	}
	// A reload of the same limits keeps the counters (no free burst).
	if err := h.gw.Reload(context.Background(), h.cfg, "test"); err != nil {
		t.Fatal(err)
	}
	if resp := h.do(t, "GET", "/api/notes", alice); resp.StatusCode != 429 {
		t.Errorf("after reload: %d, want 429", resp.StatusCode)
	}
	if n := h.counter(t, "rampart_gateway_rate_limited_total", "route", "notes"); n < 3 {
		t.Errorf("rate-limited counted %v", n)
	}
}

// TestMissingClaimSharesOneBucket: leaving the keyed claim out of a token
// is not a way around a per-tenant limit.
func TestMissingClaimSharesOneBucket(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	rc := route("notes", "/api/notes", []string{up.srv.URL}, selfAuth())
	rc.RateLimits = []config.RouteLimit{{Name: "per-tenant", Key: "claim:tenant", Rate: 1, Period: config.Duration(time.Minute), Burst: 1}}
	h.cfg.Gateway.Routes = []config.GatewayRoute{rc}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	if resp := h.do(t, "GET", "/api/notes", h.token(t, nil)); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	if resp := h.do(t, "GET", "/api/notes", h.token(t, map[string]any{"sub": "mallory"})); resp.StatusCode != 429 {
		t.Errorf("second claimless token: %d, want 429", resp.StatusCode)
	}
	if resp := h.do(t, "GET", "/api/notes", h.token(t, map[string]any{"tenant": "acme"})); resp.StatusCode != 200 {
		t.Errorf("tenant acme: %d", resp.StatusCode)
	}
}

// TestDPoPRequired: a bearer token, even a valid one, is refused with a
// DPoP challenge on a dpop: required route.
func TestDPoPRequired(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	ra := selfAuth()
	ra.DPoP = "required"
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("notes", "/api/notes", []string{up.srv.URL}, ra)}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	resp := h.do(t, "GET", "/api/notes", h.token(t, nil))
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "DPoP ") {
		t.Fatalf("bearer on a DPoP route: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if up.count() != 0 {
		t.Error("reached the upstream")
	}
}

// TestHotReloadUnderLoad swaps the route table repeatedly while clients
// hammer it: not one request fails.
func TestHotReloadUnderLoad(t *testing.T) {
	h := newHarness(t, nil)
	a, b := newEcho(t, h), newEcho(t, h)
	tables := [][]config.GatewayRoute{
		{route("notes", "/api/notes", []string{a.srv.URL}, selfAuth())},
		{route("notes", "/api/notes", []string{b.srv.URL}, selfAuth()), route("extra", "/api/extra", []string{a.srv.URL}, nil)},
	}
	h.cfg.Gateway.Routes = tables[0]
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	tok := h.token(t, nil)
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", h.srv.URL+"/api/notes/1", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := h.srv.Client().Do(req)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				done.Add(1)
			}
		}()
	}
	for i := 0; i < 40; i++ {
		cfg := *h.cfg
		gc := *cfg.Gateway
		gc.Routes = tables[i%2]
		cfg.Gateway = &gc
		if err := h.gw.Reload(context.Background(), &cfg, "test"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || done.Load() == 0 {
		t.Fatalf("%d of %d requests failed during reloads", failed.Load(), done.Load())
	}
}

// TestUpstream5xxBodyReplaced: an upstream's error page (a stack trace)
// never reaches the client.
func TestUpstream5xxBodyReplaced(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	up.code = 500
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("pub", "/", []string{up.srv.URL}, nil, "GET")}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	resp := h.do(t, "GET", "/x", "")
	body := readBody(t, resp)
	if resp.StatusCode != 500 || strings.Contains(body, "ok") || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Errorf("body is not JSON: %q", body)
	}
}
