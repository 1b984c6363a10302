package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// diffCase is one configuration that `config check` and `serve` must judge
// alike.
type diffCase struct {
	name string
	// issuer and http override the loopback plain-HTTP defaults.
	issuer, http string
	// extra is appended to the YAML; {dir} is the case's directory.
	extra string
	// env is set for the case ("" unsets); keyFile: false drops
	// master_key_file.
	env    map[string]string
	noKey  bool
	setup  func(t *testing.T, dir string)
	reason string // what both verdicts must mention
}

const goodSecret = "0123456789abcdefghijklmnopqrstuvwxyzABCD"

func diffCases() []diffCase {
	web := func(redirect, scope string) string {
		return fmt.Sprintf("clients: [{id: web, public: true, grant_types: [authorization_code], redirect_uris: ['%s'], scopes: ['%s']}]\n", redirect, scope)
	}
	aud := func(a string) string {
		return fmt.Sprintf("clients: [{id: api, secret_env: DIFF_SECRET, grant_types: [client_credentials], audience: ['%s']}]\n", a)
	}
	svc := func(field string) string {
		return fmt.Sprintf("clients: [{id: svc, %s, grant_types: [client_credentials]}]\n", field)
	}
	secretSet := map[string]string{"DIFF_SECRET": goodSecret}
	return []diffCase{
		// The example: both problems, neither caught by config check before.
		{name: "reject/client-redirect-fragment-and-bad-scope", extra: web("http://evil.example.com/cb#frag", `bad scope"x`), reason: "redirect_uris[0]"},
		{name: "reject/client-redirect-https-fragment", extra: web("https://app.example.com/cb#x", "openid"), reason: "fragment"},
		{name: "reject/client-redirect-http-off-loopback", extra: web("http://app.example.com/cb", "openid"), reason: "loopback"},
		{name: "reject/client-redirect-wildcard-host", extra: web("https://*.example.com/cb", "openid"), reason: "wildcard"},
		{name: "reject/client-redirect-wildcard-path", extra: web("https://app.example.com/*", "openid"), reason: "wildcard"},
		{name: "reject/client-redirect-javascript", extra: web("javascript:alert(1)", "openid"), reason: "javascript"},
		{name: "reject/client-redirect-data", extra: web("data:text/html,hi", "openid"), reason: "data scheme"},
		{name: "reject/client-redirect-relative", extra: web("/callback", "openid"), reason: "absolute"},
		{name: "reject/client-redirect-userinfo", extra: web("https://user:pw@app.example.com/cb", "openid"), reason: "user info"},
		{name: "reject/client-redirect-private-scheme-not-reverse-domain", extra: web("myapp:/cb", "openid"), reason: "reverse domain"},
		{name: "reject/client-redirect-too-long", extra: web("https://app.example.com/"+strings.Repeat("a", 2000), "openid"), reason: "2000"},
		{name: "reject/client-scope-space-and-quote", extra: web("https://app.example.com/cb", `bad scope"x`), reason: "scopes[0]"},
		{name: "reject/client-scope-backslash", extra: web("https://app.example.com/cb", `a\b`), reason: "scopes[0]"},
		{name: "reject/client-scope-non-ascii", extra: web("https://app.example.com/cb", "café"), reason: "scopes[0]"},
		{name: "reject/client-scope-too-long", extra: web("https://app.example.com/cb", strings.Repeat("s", 129)), reason: "scopes[0]"},
		{name: "reject/client-audience-space", extra: aud("https://api example"), env: secretSet, reason: "audience[0]"},
		{name: "reject/client-audience-empty", extra: aud(""), env: secretSet, reason: "audience[0]"},
		{name: "reject/client-audience-quote", extra: aud(`https://api"x`), env: secretSet, reason: "audience[0]"},
		{name: "reject/client-secret-env-unset", extra: svc("secret_env: DIFF_SECRET"), env: map[string]string{"DIFF_SECRET": ""}, reason: "DIFF_SECRET"},
		{name: "reject/client-secret-env-short", extra: svc("secret_env: DIFF_SECRET"), env: map[string]string{"DIFF_SECRET": "short-secret"}, reason: "at least 32"},
		{name: "reject/client-secret-env-not-a-name", extra: svc("secret_env: 'MY SECRET'"), reason: "environment variable name"},
		{name: "reject/client-secret-hash-bad-params", extra: svc("secret_hash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'"), reason: "secret_hash"},
		{name: "reject/client-secret-hash-bad-base64", extra: svc("secret_hash: '$argon2id$v=19$m=19456,t=2,p=1$!!!!$????'"), reason: "secret_hash"},
		{name: "reject/client-secret-hash-wrong-version", extra: svc("secret_hash: '$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'"), reason: "secret_hash"},
		{name: "reject/store-postgres-dsn-env-unset", extra: "store: {driver: postgres, dsn_env: DIFF_PG_DSN}\n", env: map[string]string{"DIFF_PG_DSN": ""}, reason: "DIFF_PG_DSN"},
		{name: "reject/store-sqlite-dsn-env-unset", extra: "store: {driver: sqlite, dsn_env: DIFF_DB}\n", env: map[string]string{"DIFF_DB": ""}, reason: "DIFF_DB"},
		{name: "reject/redis-url-env-unset", extra: "redis: {url_env: DIFF_REDIS}\n", env: map[string]string{"DIFF_REDIS": ""}, reason: "DIFF_REDIS"},
		{name: "reject/redis-url-env-not-redis", extra: "redis: {url_env: DIFF_REDIS}\n", env: map[string]string{"DIFF_REDIS": "http://cache:6379"}, reason: "redis URL"},
		{name: "reject/master-key-none", noKey: true, env: map[string]string{config.MasterKeyEnv: ""}, reason: config.MasterKeyEnv},
		{name: "reject/master-key-file-missing", noKey: true, extra: "master_key_file: {dir}/missing.key\n", reason: "missing.key"},
		{name: "reject/master-key-file-world-readable", noKey: true, extra: "master_key_file: {dir}/open.key\n",
			setup: func(t *testing.T, dir string) {
				p := writeFile(t, dir, "open.key", testkit.MasterKeyHex)
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			}, reason: "chmod 600"},
		{name: "reject/master-key-file-malformed", noKey: true, extra: "master_key_file: {dir}/bad.key\n",
			setup: func(t *testing.T, dir string) { writeFile(t, dir, "bad.key", "not a key") }, reason: "master key"},
		{name: "reject/master-key-env-malformed", noKey: true, env: map[string]string{config.MasterKeyEnv: "too-short"}, reason: config.MasterKeyEnv},
		{name: "reject/tls-files-missing", issuer: "https://127.0.0.1:0", http: "{listen: '127.0.0.1:0', tls: {mode: files, cert_file: {dir}/no-cert.pem, key_file: {dir}/no-key.pem}}", reason: "cert_file"},
		{name: "reject/tls-files-not-pem", issuer: "https://127.0.0.1:0", http: "{listen: '127.0.0.1:0', tls: {mode: files, cert_file: {dir}/cert.pem, key_file: {dir}/key.pem}}",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "cert.pem", "not a certificate")
				writeFile(t, dir, "key.pem", "not a key")
			}, reason: "http.tls"},
		{name: "reject/plain-http-off-loopback", http: "{listen: '0.0.0.0:0', tls: {mode: 'off'}}", reason: "loopback"},
		{name: "reject/unknown-key", extra: "tokens: {access_ttl: 10m}\n", reason: "unknown key"},
		// The CA: serve would otherwise fail only at ca.Init, after the
		// database was migrated.
		{name: "reject/ca-trust-domain-ip", extra: "ca: {trust_domain: 10.0.0.1}\n", reason: "ca.trust_domain"},
		{name: "reject/ca-trust-domain-not-derivable", issuer: "https://192.0.2.10:0", http: "{listen: '127.0.0.1:0'}", reason: "ca.trust_domain"},
		{name: "reject/ca-intermediate-too-short", extra: "ca: {max_svid_ttl: 24h, intermediate_ttl: 48h}\n", reason: "ca.intermediate_ttl"},
		{name: "reject/ca-propagation-too-long", extra: "ca: {intermediate_ttl: 90m, max_svid_ttl: 30m, svid_ttl: 30m, rotation_propagation: 30m}\n", reason: "ca.rotation_propagation"},
		{name: "reject/ca-listen-is-http-listen", http: "{listen: '127.0.0.1:18080', tls: {mode: 'off'}}", extra: "ca: {listen: '127.0.0.1:18080'}\n", reason: "ca.listen"},
	}
}

// writeDiffConfig writes the case's configuration in dir; its data_dir is
// dir/data, which does not exist yet.
func writeDiffConfig(t *testing.T, dir string, tc diffCase) string {
	t.Helper()
	issuer, httpYAML := tc.issuer, tc.http
	if issuer == "" {
		issuer = "http://127.0.0.1:0"
	}
	if httpYAML == "" {
		httpYAML = "{listen: '127.0.0.1:0', tls: {mode: 'off'}}"
	}
	body := fmt.Sprintf("issuer: %s\ndata_dir: %s\nhttp: %s\nlog: {level: error}\n", issuer, filepath.Join(dir, "data"), httpYAML)
	if !tc.noKey {
		body += "master_key_file: " + writeFile(t, dir, "master.key", testkit.MasterKeyHex) + "\n"
	}
	body += tc.extra
	return writeFile(t, dir, "rampart.yaml", strings.ReplaceAll(body, "{dir}", dir))
}

// serveVerdict runs serve on the file as `rampart serve --config` does and
// returns its error; nil means it started (and was stopped).
func serveVerdict(t *testing.T, path string) error {
	t.Helper()
	cfg, err := loadConfig(path, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, io.Discard, ready) }()
	select {
	case err := <-done:
		if err == nil {
			return errors.New("serve returned nil before it was ready")
		}
		return err
	case <-ready:
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve started, then failed to stop: %v", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		t.Fatal("serve neither started nor failed")
		return nil
	}
}

// TestConfigCheckMatchesServe is the differential test of issue 10, item
// 14: for every bad configuration `rampart config check` and `rampart
// serve` give the same verdict (exit 1, naming the same problem), and serve
// refuses before any side effect: data_dir (database, master key, TLS CA)
// is never created. On the old code config check said "config OK" to the
// client, secret and *_env cases, and serve refused them only after it had
// created data_dir, the database and a master key.
func TestConfigCheckMatchesServe(t *testing.T) {
	cases := diffCases()
	if len(cases) < 30 {
		t.Fatalf("%d cases; the differential table needs at least 30", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A clean environment for every variable the table uses, then the case's.
			for _, k := range []string{"DIFF_SECRET", "DIFF_PG_DSN", "DIFF_DB", "DIFF_REDIS", config.MasterKeyEnv} {
				t.Setenv(k, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			path := writeDiffConfig(t, dir, tc)

			code, out, errOut := cli(t, "", "config", "check", "--config", path)
			if code != exitFail || strings.Contains(out, "config OK") {
				t.Fatalf("config check: exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.reason) {
				t.Fatalf("config check does not mention %q:\n%s", tc.reason, errOut)
			}

			err := serveVerdict(t, path)
			if err == nil {
				t.Fatal("serve started on a configuration config check refuses")
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("serve's refusal does not mention %q: %v", tc.reason, err)
			}
			if _, statErr := os.Stat(filepath.Join(dir, "data")); !errors.Is(statErr, os.ErrNotExist) {
				entries, _ := os.ReadDir(filepath.Join(dir, "data"))
				t.Fatalf("serve refused (%v) but left data_dir behind: %v", err, entries)
			}
		})
	}
}

// TestConfigCheckMatchesServeAccept: a good configuration with a
// confidential client (secret_env set) and a public one passes both, and
// serve starts.
func TestConfigCheckMatchesServeAccept(t *testing.T) {
	t.Setenv("DIFF_SECRET", goodSecret)
	t.Setenv(config.MasterKeyEnv, "")
	dir := t.TempDir()
	path := writeDiffConfig(t, dir, diffCase{extra: `clients:
  - {id: api, secret_env: DIFF_SECRET, grant_types: [client_credentials], scopes: [notes:read], audience: ['https://api.example.test']}
  - {id: web, public: true, grant_types: [authorization_code, refresh_token], redirect_uris: ['http://127.0.0.1:9999/cb', 'com.example.app:/cb'], scopes: [openid]}
`})
	if code, out, errOut := cli(t, "", "config", "check", "--config", path); code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("config check: exit %d\n%s\n%s", code, out, errOut)
	}
	if err := serveVerdict(t, path); err != nil {
		t.Fatalf("serve refused a configuration config check accepts: %v", err)
	}
	// And an environment-supplied master key (base64) is the same verdict.
	t.Setenv(config.MasterKeyEnv, testkit.MasterKeyBase64)
	dir2 := t.TempDir()
	path2 := writeDiffConfig(t, dir2, diffCase{noKey: true})
	if code, _, errOut := cli(t, "", "config", "check", "--config", path2); code != 0 {
		t.Fatalf("config check with %s: %s", config.MasterKeyEnv, errOut)
	}
	if err := serveVerdict(t, path2); err != nil {
		t.Fatalf("serve with %s: %v", config.MasterKeyEnv, err)
	}
}
