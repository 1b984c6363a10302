package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// cli runs the command line in-process and returns exit code, stdout, stderr.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	// config check is serve's dry run: it needs the master key serve needs.
	t.Setenv(config.MasterKeyEnv, testkit.MasterKeyBase64)
	cases := []struct {
		name     string
		args     []string
		body     string
		wantCode int
		wantErr  string
	}{
		{"accept/minimal", nil, "issuer: http://127.0.0.1:8080\n", 0, ""},
		{"reject/unknown-key", nil, "issuer: http://127.0.0.1:8080\nhttp:\n  listen: 127.0.0.1:8080\n  tsl: {mode: auto}\n", 1, `unknown key "http.tsl"`},
		{"reject/plain-http-on-0.0.0.0", nil, "issuer: https://auth.example.com\nhttp: {listen: '0.0.0.0:8080', tls: {mode: 'off'}}\n", 1, "not a loopback address"},
		{"reject/short-rsa", nil, "keys: {algorithm: RS256, rsa_bits: 1024}\n", 1, "keys.rsa_bits"},
		{"usage/no-config-flag", []string{"config", "check"}, "", 2, "needs --config"},
		{"usage/unknown-flag", []string{"config", "check", "--bogus"}, "", 2, "unknown flag"},
		{"usage/extra-argument", []string{"config", "check", "--config", "x.yaml", "extra"}, "", 2, "unknown command"},
		{"fail/missing-file", []string{"config", "check", "--config", filepath.Join(dir, "nope.yaml")}, "", 1, "cannot open"},
		{"reject/unset-client-secret-env", nil, "issuer: http://127.0.0.1:8080\nclients: [{id: svc, secret_env: RAMPART_TEST_UNSET_SECRET, grant_types: [client_credentials]}]\n", 1, "RAMPART_TEST_UNSET_SECRET"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = []string{"config", "check", "--config", writeFile(t, dir, fmt.Sprintf("c%d.yaml", i), tc.body)}
			}
			code, out, errs := cli(t, "", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errs)
			}
			if tc.wantErr != "" && !strings.Contains(errs, tc.wantErr) {
				t.Fatalf("stderr %q does not mention %q", errs, tc.wantErr)
			}
			if code == 0 && !strings.Contains(out, "config OK") {
				t.Fatalf("stdout %q", out)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown-command":    {"frobnicate"},
		"key-without-sub":    {"key"},
		"unknown-subcommand": {"key", "explode"},
		"bad-tail-count":     {"audit", "tail", "-n", "0"},
		"serve-extra-arg":    {"serve", "now"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errs := cli(t, "", args...); code != exitUsage {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, errs)
			}
		})
	}
	// jwt verify reports its own usage errors, once, and exits 2.
	for _, args := range [][]string{{"jwt", "verify"}, {"jwt", "verify", "--bogus"}, {"jwt", "verify", "--jwks", "x", "extra"}} {
		code, _, errs := cli(t, "tok", args...)
		if code != exitUsage || strings.Count(errs, "\n") != 1 || strings.Contains(errs, "rampart: exit status") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if code, out, _ := cli(t, "", "version"); code != 0 || !strings.HasPrefix(out, "rampart ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// testServer is a running `serve` with its config file.
type testServer struct {
	cfgPath string
	cfg     *config.Config
	base    string
	client  *http.Client
	stop    func() error
}

// startServer writes a config for driver and TLS mode, starts serve and
// waits until it listens.
func startServer(t *testing.T, driver, tlsMode string) *testServer {
	t.Helper()
	dir := t.TempDir()
	key := testkit.MasterKeyBase64
	keyFile := writeFile(t, dir, "master.key", key+"\n")
	scheme := "http"
	if tlsMode != config.TLSOff {
		scheme = "https"
	}
	body := fmt.Sprintf("issuer: %s://127.0.0.1:0\ndata_dir: %s\nmaster_key_file: %s\nhttp: {listen: '127.0.0.1:0', tls: {mode: %s}}\nlog: {level: warn}\n",
		scheme, filepath.Join(dir, "data"), keyFile, tlsMode)
	if driver == sqlstore.Postgres {
		_, dsn := storetest.DSN(t, driver)
		body += fmt.Sprintf("store: {driver: postgres, dsn: '%s'}\n", dsn)
	}
	path := writeFile(t, dir, "rampart.yaml", body)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, io.Discard, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	ts := &testServer{cfgPath: path, cfg: cfg, base: scheme + "://" + addr.String(), client: &http.Client{Timeout: 10 * time.Second}}
	if tlsMode == config.TLSAuto {
		pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		ts.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	var stopped bool
	var stopErr error
	ts.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			stopErr = <-done
		}
		return stopErr
	}
	t.Cleanup(func() { _ = ts.stop() })
	return ts
}

func (ts *testServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := ts.client.Get(ts.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (ts *testServer) kids(t *testing.T) []string {
	t.Helper()
	resp, body := ts.get(t, "/.well-known/jwks.json")
	if resp.StatusCode != 200 {
		t.Fatalf("jwks: %d", resp.StatusCode)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS exposes private member %q", private)
			}
		}
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

func TestServeEndToEnd(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ts := startServer(t, driver, config.TLSOff)
			for _, p := range []string{"/healthz", "/readyz"} {
				if resp, body := ts.get(t, p); resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
				}
			}
			resp, body := ts.get(t, "/metrics")
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte("rampart_http_requests_total")) || !bytes.Contains(body, []byte("rampart_audit_events_appended_total")) {
				t.Fatalf("metrics: %d", resp.StatusCode)
			}
			resp, body = ts.get(t, "/no/such/thing")
			if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("404: %d %v %s", resp.StatusCode, resp.Header, body)
			}
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Fatal("HSTS on plain HTTP")
			}

			before := ts.kids(t)
			if len(before) != 1 {
				t.Fatalf("first start: %d keys in the JWKS, want 1", len(before))
			}
			code, out, errs := cli(t, "", "key", "rotate", "--config", ts.cfgPath)
			if code != 0 {
				t.Fatalf("key rotate: exit %d: %s", code, errs)
			}
			var after []string
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if after = ts.kids(t); len(after) == 2 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(after) != 2 || !strings.Contains(out, after[0]) && !strings.Contains(out, after[1]) {
				t.Fatalf("after rotate the JWKS has %v; rotate said %q", after, out)
			}
			code, out, _ = cli(t, "", "key", "list", "--config", ts.cfgPath, "--json")
			if code != 0 || strings.Count(out, `"KID"`) != 2 {
				t.Fatalf("key list: %d %s", code, out)
			}

			// An untouched audit log verifies, and records the start and the rotation.
			code, out, errs = cli(t, "", "audit", "verify", "--config", ts.cfgPath)
			if code != 0 || !strings.Contains(out, "verified") {
				t.Fatalf("audit verify: %d %s %s", code, out, errs)
			}
			code, out, _ = cli(t, "", "audit", "tail", "--config", ts.cfgPath, "-n", "50")
			for _, action := range []string{"server.start", "key.generate", "key.activate", "key.rotate"} {
				if code != 0 || !strings.Contains(out, action) {
					t.Fatalf("audit tail lacks %s:\n%s", action, out)
				}
			}

			// Stop: server.stop is recorded.
			if err := ts.stop(); err != nil {
				t.Fatalf("serve returned %v", err)
			}
			_, out, _ = cli(t, "", "audit", "tail", "--config", ts.cfgPath, "-n", "1")
			if !strings.Contains(out, "server.stop") {
				t.Fatalf("last event is not server.stop: %s", out)
			}

			// Editing one row makes verify fail and name it.
			s, err := openStore(context.Background(), ts.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.SQL().Exec(s.Q("UPDATE audit_log SET actor = ? WHERE seq = ?"), "cli:mallory", 2); err != nil {
				t.Fatal(err)
			}
			code, _, errs = cli(t, "", "audit", "verify", "--config", ts.cfgPath)
			if code != 1 || !strings.Contains(errs, "record 2") {
				t.Fatalf("tampered audit verify: exit %d, stderr %q", code, errs)
			}
		})
	}
}

func TestServeAutoTLS(t *testing.T) {
	ts := startServer(t, sqlstore.SQLite, config.TLSAuto)
	resp, _ := ts.get(t, "/healthz")
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("healthz over TLS: %d %+v", resp.StatusCode, resp.TLS)
	}
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatal("no HSTS over TLS")
	}
	if len(ts.kids(t)) != 1 {
		t.Fatal("JWKS over TLS")
	}
}

func TestDatabaseHoldsNoClearPrivateKey(t *testing.T) {
	ts := startServer(t, sqlstore.SQLite, config.TLSOff)
	if code, _, errs := cli(t, "", "key", "rotate", "--config", ts.cfgPath); code != 0 {
		t.Fatal(errs)
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(ts.cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"PRIVATE KEY", `"d":`} {
		if bytes.Contains(raw, []byte(marker)) {
			t.Fatalf("database file contains %q", marker)
		}
	}
}

func TestSchemaAndMasterKeyRefusals(t *testing.T) {
	ts := startServer(t, sqlstore.SQLite, config.TLSOff)
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli(t, "", "migrate", "--config", ts.cfgPath); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	s, err := openStore(context.Background(), ts.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SQL().Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	for _, args := range [][]string{{"migrate"}, {"key", "list"}, {"audit", "verify"}} {
		code, _, errs := cli(t, "", append(args, "--config", ts.cfgPath)...)
		if code != 1 || !strings.Contains(errs, "newer") {
			t.Fatalf("%v on a newer schema: exit %d, %q", args, code, errs)
		}
	}
	err = serve(context.Background(), ts.cfg, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("serve on a newer schema: %v", err)
	}

	// A production config without any master key is refused with advice.
	t.Setenv(config.MasterKeyEnv, "")
	cfg := *ts.cfg
	cfg.MasterKeyFile = ""
	err = serve(context.Background(), &cfg, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "RAMPART_MASTER_KEY") {
		t.Fatalf("serve without a master key: %v", err)
	}
	// A world-readable master key file is refused.
	if err := os.Chmod(ts.cfg.MasterKeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "", "key", "list", "--config", ts.cfgPath); code != 1 || !strings.Contains(errs, "chmod") {
		t.Fatalf("world-readable key: exit %d %q", code, errs)
	}
}
