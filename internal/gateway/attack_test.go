package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

// rawTarget sends one raw HTTP/1.1 request (the target and header lines
// exactly as given, which net/http's client would normalize) and returns
// the status.
func rawTarget(t *testing.T, addr, target string, lines []string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", target, addr)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// TestSpoofedHeadersThroughGateway sends every spelling of the spoofing
// corpus (testdata/header_spoofing.txt) to the real gateway with a valid
// token: none reaches the upstream, and the identity the upstream sees is
// the token's, never the one the client wrote.
func TestSpoofedHeadersThroughGateway(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	h.cfg.Gateway.Routes = []config.GatewayRoute{route("notes", "/api/notes", []string{up.srv.URL}, selfAuth())}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range hostileLines(t) {
		if !strings.HasPrefix(l, "Authorization:") {
			lines = append(lines, l)
		}
	}
	addr := h.srv.Listener.Addr().String()
	tok := "Authorization: Bearer " + h.token(t, nil)
	// The corpus's own second Authorization makes the credentials
	// ambiguous: refused outright (RFC 6750 §3.1 invalid_request).
	if code := rawTarget(t, addr, "/api/notes", append(lines, tok, "Authorization: Bearer e30.e30.e30")); code != 400 {
		t.Fatalf("two Authorization headers: status %d, want 400", code)
	}
	if code := rawTarget(t, addr, "/api/notes", append(lines, tok)); code != 200 {
		t.Fatalf("status %d", code)
	}
	got := up.last(t)
	gwHost := h.srv.Listener.Addr().String()
	want := map[string]string{
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": gwHost,
		"Forwarded":         `for=127.0.0.1;proto=http;host="` + gwHost + `"`,
		"X-Rampart-Subject": "alice", "X-Rampart-Client": "web", "X-Rampart-Scopes": "notes:read notes:write",
	}
	for k, v := range got.Header {
		if !refForbidden(refNorm(k), false) || k == HeaderAssertion {
			continue
		}
		if w, ok := want[k]; !ok || len(v) != 1 || v[0] != w {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	for k, w := range want {
		if v := got.Header[k]; len(v) != 1 || v[0] != w {
			t.Errorf("upstream %s = %q, want %q", k, v, w)
		}
	}
	if got.AssertionErr != nil || got.Assertion.Subject != "alice" {
		t.Errorf("assertion %+v %v", got.Assertion, got.AssertionErr)
	}
	if v := got.Header.Get("Accept"); v != "application/json" {
		t.Errorf("legitimate header lost: Accept = %q", v)
	}
}

// TestBypassCorpusThroughGateway replays every public path bypass of
// testdata/bypass against a real gateway with a protected /admin route
// beside a public / route: a case the canonicalizer refuses gets 400, and
// an accepted one is served by /admin and so needs the token; none reaches
// the protected upstream without authentication.
func TestBypassCorpusThroughGateway(t *testing.T) {
	h := newHarness(t, nil)
	admin, public := newEcho(t, h), newEcho(t, h)
	h.cfg.Gateway.Routes = []config.GatewayRoute{
		route("admin", "/admin", []string{admin.srv.URL}, selfAuth("admin")),
		route("public", "/", []string{public.srv.URL}, nil, "GET"),
	}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "bypass", "*.txt"))
	addr := h.srv.Listener.Addr().String()
	n := 0
	for _, file := range files {
		data, err := os.ReadFile(file) // #nosec G304 -- the test's own corpus
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			target, want, ok := strings.Cut(line, "\t")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			n++
			if strings.ContainsAny(target, " \r\n") {
				continue // not sendable on a request line; covered by TestBypassCorpus
			}
			before := public.count()
			code := rawTarget(t, addr, target, nil)
			switch {
			case want == "reject" && code != 400:
				t.Errorf("%s %q: status %d, want 400", filepath.Base(file), target, code)
			case want != "reject" && code != 401:
				t.Errorf("%s %q (canonical %s): status %d, want 401 from the admin route", filepath.Base(file), target, want, code)
			}
			if public.count() != before && want != "reject" {
				t.Errorf("%q reached the public upstream", target)
			}
		}
	}
	if admin.count() != 0 {
		t.Errorf("%d bypass requests reached the protected upstream", admin.count())
	}
	if n < 50 {
		t.Fatalf("only %d corpus cases", n)
	}
}

// TestRevokedOnSecondGatewayWithinOneSecond: two gateway instances share
// Redis (deny list and limits); a token is revoked through the shared deny
// list, as the authorization server does, and both instances refuse it
// once one second has passed, although each had it in its verified-token
// cache.
func TestRevokedOnSecondGatewayWithinOneSecond(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0; `eval \"$(scripts/services.sh)\"` does) to run the Redis tests")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	t.Cleanup(func() { _ = rc.Close() })
	prefix := fmt.Sprintf("rampart:test:gw:%d:", time.Now().UnixNano())
	shared := func(d *Deps) {
		d.Deny = jwtauth.NewRedisDenyList(rc, prefix+"deny:")
		d.Limits = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: prefix + "rl:", Logger: slog.New(slog.DiscardHandler)})
	}
	one := newHarness(t, nil, shared)
	// The fleet shares one key ring.
	two := newHarness(t, nil, shared, func(d *Deps) { d.SelfKeys, d.Signer = selfKeys{one.km}, one.km })
	up := newEcho(t, one)
	for _, h := range []*harness{one, two} {
		h.cfg.Gateway.Routes = []config.GatewayRoute{route("notes", "/api/notes", []string{up.srv.URL}, selfAuth())}
		if err := h.gw.Load(h.cfg); err != nil {
			t.Fatal(err)
		}
	}
	tok := one.token(t, map[string]any{"jti": prefix + "tok"})
	for _, h := range []*harness{one, two} {
		if resp := h.do(t, "GET", "/api/notes", tok); resp.StatusCode != 200 {
			t.Fatalf("before revocation: %d", resp.StatusCode)
		}
	}
	if err := jwtauth.NewRedisDenyList(rc, prefix+"deny:").Add(context.Background(), prefix+"tok", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	for i, h := range []*harness{one, two} {
		if resp := h.do(t, "GET", "/api/notes", tok); resp.StatusCode != 401 {
			t.Errorf("instance %d one second after revocation: %d, want 401", i+1, resp.StatusCode)
		}
	}
}
