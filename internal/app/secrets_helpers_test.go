package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// Client secrets of the secrets API tests (read from the environment by
// serve, as in production).
const (
	secAppSecret   = "a-client-secret-of-at-least-32-characters-app"
	secOtherSecret = "a-client-secret-of-at-least-32-characters-oth"
)

// secretsConfig is the base configuration of the secrets API tests: two
// clients, a policy granting app team/a (never team/ab), extra appended.
const secretsConfig = `clients:
  - {id: app, secret_env: RAMPART_TEST_SEC_APP, grant_types: [client_credentials], scopes: [secrets]}
  - {id: other, secret_env: RAMPART_TEST_SEC_OTHER, grant_types: [client_credentials], scopes: [secrets]}
secrets:
  policies:
    - {name: app-team-a, paths: [team/a], capabilities: [read, list, write, delete, destroy], clients: [app], scopes: [secrets]}
    - {name: billing-svid, paths: [svc/billing], capabilities: [read], spiffe_ids: ['spiffe://example.test/svc/billing']}
`

// secServer is a running serve for the secrets API tests.
type secServer struct {
	cfg    *config.Config
	base   string
	addrs  map[string]net.Addr
	logs   *testkit.SyncBuffer // every log line of the server
	client *http.Client
	dbFile string // the SQLite file ("" on PostgreSQL)
}

// startSecretsServer starts serve on driver with secretsConfig + extra
// and captures its logs at debug level.
func startSecretsServer(tb testing.TB, driver, extra string) *secServer {
	tb.Helper()
	tb.Setenv("RAMPART_TEST_SEC_APP", secAppSecret)
	tb.Setenv("RAMPART_TEST_SEC_OTHER", secOtherSecret)
	dir := tb.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(tb, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	body := fmt.Sprintf("issuer: http://127.0.0.1:0\ndata_dir: %s\nmaster_key_file: %s\nhttp: {listen: '127.0.0.1:0', tls: {mode: 'off'}}\nlog: {level: %s}\n",
		filepath.Join(dir, "data"), keyFile, logLevel(tb))
	if driver == sqlstore.Postgres {
		_, dsn := storetest.DSN(tb, driver)
		body += fmt.Sprintf("store: {driver: postgres, dsn: '%s'}\n", dsn)
	}
	cfgPath := filepath.Join(dir, "rampart.yaml")
	testkit.WriteFile(tb, cfgPath, []byte(body+secretsConfig+extra))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		tb.Fatal(err)
	}
	s := &secServer{cfg: cfg, addrs: map[string]net.Addr{}, logs: &testkit.SyncBuffer{},
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	if driver != sqlstore.Postgres {
		s.dbFile = cfg.Store.DSN
	}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- Serve(ctx, ServeOptions{Config: cfg, Env: OSEnv(), Stdout: io.Discard, Stderr: s.logs, Name: "Rampart", Version: "test",
			Listening: func(n string, a net.Addr) { mu.Lock(); s.addrs[n] = a; mu.Unlock() },
			Ready:     func(net.Addr) { close(ready) }})
	}()
	stopped := false
	tb.Cleanup(func() {
		cancel()
		if !stopped {
			<-done
		}
	})
	select {
	case <-ready:
	case err := <-done:
		stopped = true
		tb.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		tb.Fatal("serve did not start")
	}
	mu.Lock()
	defer mu.Unlock()
	s.base = "http://" + s.addrs["main"].String()
	return s
}

// token gets a client_credentials access token.
func (s *secServer) token(tb testing.TB, id, secret, scope string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		tb.Fatalf("token for %s: %d %v", id, resp.StatusCode, err)
	}
	return body.AccessToken
}

// do sends a request (raw path, sent as is) and returns status, headers
// and body.
func (s *secServer) do(tb testing.TB, method, rawPath, tok, contentType string, body []byte, hdr ...string) (int, http.Header, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, s.base+"/", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	// Opaque keeps the path byte for byte: no cleaning, no re-encoding.
	path, q, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = "//" + req.URL.Host + path
	req.URL.RawQuery = q
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// json sends v as JSON (nil: no body) and decodes the answer into out.
func (s *secServer) json(tb testing.TB, method, rawPath, tok string, v any, want int, out any) {
	tb.Helper()
	var body []byte
	ct := ""
	if v != nil {
		body, _ = json.Marshal(v)
		ct = "application/json"
	}
	code, _, b := s.do(tb, method, rawPath, tok, ct, body)
	if code != want {
		tb.Fatalf("%s %s: %d, want %d: %s", method, rawPath, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %v: %s", method, rawPath, err, b)
		}
	}
}

// logLevel: debug for tests (every line is grepped), warn for benchmarks.
func logLevel(tb testing.TB) string {
	if _, ok := tb.(*testing.B); ok {
		return "warn"
	}
	return "debug"
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
