package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/jwtauth"
)

// gwUpstream records the requests that reach it.
type gwUpstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newGWUpstream(t *testing.T) *gwUpstream {
	u := &gwUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Header.Clone())
		u.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *gwUpstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		return nil
	}
	return u.got[len(u.got)-1]
}

const gwTestSecret = "a-client-secret-of-at-least-32-characters"

func gatewayConfig(dir, keyFile, upstream, routes string) string {
	return fmt.Sprintf(`issuer: http://127.0.0.1:0
data_dir: %s
master_key_file: %s
http: {listen: '127.0.0.1:0', tls: {mode: off}}
log: {level: warn}
clients:
  - {id: svc, secret_env: RAMPART_TEST_GW_SECRET, grant_types: [client_credentials], scopes: [notes:read], audience: [https://notes.example.test]}
gateway:
  listen: 127.0.0.1:0
  tls: {mode: off}
  routes:
    - name: notes
      match: {path_prefix: /api/notes, methods: [GET]}
      upstreams: [%s]
      auth: {issuer: self, audience: [https://notes.example.test], scopes: [notes:read]}
%s`, filepath.Join(dir, "data"), keyFile, upstream, routes)
}

// TestServeGatewayEndToEnd runs serve with a gateway section: a token
// from the token endpoint is accepted at the gateway, the upstream gets
// an assertion it verifies against the served JWKS, a revocation at the
// revocation endpoint is honoured within a second, a changed file adds a
// route, a broken file is refused and the old routes keep serving, and
// SIGHUP reloads.
func TestServeGatewayEndToEnd(t *testing.T) {
	t.Setenv("RAMPART_TEST_GW_SECRET", gwTestSecret)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(t, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	up := newGWUpstream(t)
	cfgPath := filepath.Join(dir, "rampart.yaml")
	testkit.WriteFile(t, cfgPath, []byte(gatewayConfig(dir, keyFile, up.srv.URL, "")))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	addrs := startServe(t, cfg, io.Discard)
	main, gw := "http://"+addrs["main"].String(), "http://"+addrs["gateway"].String()
	tok := clientToken(t, main)
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", gw+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/notes/1", tok); code != 200 {
		t.Fatalf("gateway with a served token: %d", code)
	}
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: main + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{Issuer: cfg.Issuer, Keys: jwks, Audience: up.srv.URL, Replay: jwtauth.NewMemoryReplayCache(nil, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := av.VerifyAssertion(context.Background(), up.last().Get("X-Rampart-Assertion")); err != nil || a.ClientID != "svc" {
		t.Fatalf("assertion: %+v %v", a, err)
	}

	// A change of the file adds a route; a broken file is refused.
	testkit.WriteFile(t, cfgPath, []byte(gatewayConfig(dir, keyFile, up.srv.URL, `    - name: status
      match: {path: /status, methods: [GET]}
      upstreams: [`+up.srv.URL+`]
      auth: none
`)))
	testkit.WaitFor(t, "the file change reloaded", 15*time.Second, func() bool { return get("/status", "") == 200 })
	testkit.WriteFile(t, cfgPath, []byte(gatewayConfig(dir, keyFile, up.srv.URL, `    - name: broken
      match: {path: /broken, methods: [GET]}
      upstreams: [`+up.srv.URL+`]
`)))
	testkit.WaitFor(t, "the broken file refused", 15*time.Second, func() bool {
		return strings.Contains(metrics(t, main), `rampart_gateway_config_reloads_total{outcome="failure"} 1`)
	})
	if get("/status", "") != 200 || get("/api/notes/1", tok) != 200 {
		t.Fatal("the old routes stopped serving after a refused reload")
	}
	// SIGHUP with the good file back.
	testkit.WriteFile(t, cfgPath, []byte(gatewayConfig(dir, keyFile, up.srv.URL, "")))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "SIGHUP reloaded", 15*time.Second, func() bool { return get("/status", "") == 404 })

	// Revocation at the revocation endpoint reaches the gateway.
	form := url.Values{"token": {tok}}
	req, _ := http.NewRequest("POST", main+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", gwTestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	time.Sleep(time.Second)
	if code := get("/api/notes/1", tok); code != 401 {
		t.Fatalf("revoked token one second later: %d, want 401", code)
	}
}

// startServe runs Serve with cfg until the test ends and returns every
// listener's address by name once it is ready.
func startServe(t *testing.T, cfg *config.Config, stdout io.Writer) map[string]net.Addr {
	t.Helper()
	addrs := map[string]net.Addr{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- Serve(ctx, ServeOptions{Config: cfg, Env: OSEnv(), Stdout: stdout, Stderr: io.Discard, Name: "Rampart", Version: "test",
			Listening: func(n string, a net.Addr) { mu.Lock(); addrs[n] = a; mu.Unlock() },
			Ready:     func(net.Addr) { close(ready) }})
	}()
	stopped := false
	t.Cleanup(func() {
		cancel()
		if !stopped {
			<-done
		}
	})
	select {
	case <-ready:
	case err := <-done:
		stopped = true
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	mu.Lock()
	defer mu.Unlock()
	return addrs
}

func clientToken(t *testing.T, main string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}}
	req, _ := http.NewRequest("POST", main+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", gwTestSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func metrics(t *testing.T, main string) string {
	t.Helper()
	resp, err := http.Get(main + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
