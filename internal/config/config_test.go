package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{"accept/empty-file", "", func(t *testing.T, c *Config) {
			if c.HTTP.Listen != DefaultListen || c.Store.Driver != DriverSQLite || c.Keys.Algorithm != AlgES256 {
				t.Errorf("defaults not applied: %+v", c)
			}
			if c.HTTP.TLS.Mode != TLSAuto || c.Issuer != "https://127.0.0.1:8080" {
				t.Errorf("tls %q issuer %q, want auto and https://127.0.0.1:8080", c.HTTP.TLS.Mode, c.Issuer)
			}
			if c.Store.DSN != filepath.Join(DefaultDataDir, "rampart.db") {
				t.Errorf("sqlite dsn %q", c.Store.DSN)
			}
			if c.Tokens.AccessTokenTTL.D() != 10*time.Minute || c.Keys.RotationPeriod.D() != 720*time.Hour {
				t.Errorf("durations %v %v", c.Tokens.AccessTokenTTL.D(), c.Keys.RotationPeriod.D())
			}
		}},
		{"accept/http-loopback-issuer-implies-tls-off", "issuer: http://127.0.0.1:8080\n", func(t *testing.T, c *Config) {
			if c.HTTP.TLS.Mode != TLSOff {
				t.Errorf("tls mode %q, want off", c.HTTP.TLS.Mode)
			}
		}},
		{"accept/localhost-issuer", "issuer: http://localhost:9000/\nhttp: {listen: 'localhost:9000'}\n", func(t *testing.T, c *Config) {
			if c.Issuer != "http://localhost:9000" {
				t.Errorf("issuer %q, want trailing slash trimmed", c.Issuer)
			}
		}},
		{"accept/ipv6-loopback-plain", "http: {listen: '[::1]:8080', tls: {mode: 'off'}}\n", func(t *testing.T, c *Config) {
			if c.Issuer != "http://[::1]:8080" {
				t.Errorf("issuer %q", c.Issuer)
			}
		}},
		{"accept/device-client", "clients: [{id: cli, public: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token], scopes: [openid]}]\n", func(t *testing.T, c *Config) {
			if c.Clients[0].GrantTypes[0] != GrantDeviceCode || c.RateLimits.DeviceCodePerIP.Burst != 20 || c.RateLimits.DeviceCodeGlobal.Rate != 600 {
				t.Errorf("device client or limits: %+v %+v", c.Clients[0], c.RateLimits)
			}
		}},
		{"accept/device-client-require-mfa", "clients: [{id: cli, public: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], require_mfa: true}]\n", func(t *testing.T, c *Config) {
			// The device page steps up like the authorization endpoint.
			if !c.Clients[0].RequireMFA {
				t.Error("require_mfa lost")
			}
		}},
		{"accept/full", `
issuer: https://auth.example.com
data_dir: /var/lib/rampart
http:
  listen: 0.0.0.0:8443
  tls: {mode: files, cert_file: /etc/rampart/tls.crt, key_file: /etc/rampart/tls.key}
  max_body_bytes: 65536
  read_header_timeout: 2s
store: {driver: postgres, dsn_env: RAMPART_DSN}
redis: {url_env: RAMPART_REDIS_URL}
master_key_file: /etc/rampart/master.key
keys: {algorithm: RS256, rsa_bits: 4096, rotation_period: 168h, publish_ahead: 2h, jwks_max_age: 10m}
tokens: {access_token_ttl: 5m, refresh_token_ttl: 24h}
audit: {batch_size: 100, flush_interval: 1ms}
log: {level: debug, format: text}
`, func(t *testing.T, c *Config) {
			if c.Keys.RSABits != 4096 || c.HTTP.ReadHeaderTimeout.D() != 2*time.Second || c.Store.DSN != "" {
				t.Errorf("values not decoded: %+v", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseRefused(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // every fragment must appear in the error
	}{
		{"reject/unknown-top-level-key", "issuer: https://a.example\nlisten: 1\n", []string{`unknown key "listen"`, "line 2", "http"}},
		{"reject/unknown-nested-key", "http:\n  tls:\n    mod: auto\n", []string{`"http.tls.mod"`, "line 3", "mode"}},
		{"reject/typo-in-list-type", "http: [1, 2]\n", []string{"http", "mapping"}},
		{"reject/wrong-type", "http: {max_body_bytes: lots}\n", []string{"lots"}},
		{"reject/number-as-duration", "tokens: {access_token_ttl: 600}\n", []string{"600", "duration"}},
		{"reject/bad-duration", "tokens: {access_token_ttl: ten minutes}\n", []string{"ten minutes", "duration"}},
		{"reject/duplicate-key", "issuer: https://a.example\nissuer: https://b.example\n", []string{"issuer"}},
		{"reject/two-documents", "issuer: https://a.example\n---\nissuer: https://b.example\n", []string{"more than one YAML document"}},
		{"reject/alias", "a: &x {listen: 1}\n", []string{"unknown key"}},
		{"reject/not-a-mapping", "- 1\n- 2\n", []string{"top level must be a mapping"}},
		{"reject/plain-http-wildcard", "issuer: https://auth.example.com\nhttp: {listen: '0.0.0.0:8080', tls: {mode: 'off'}}\n", []string{"http.tls.mode", "0.0.0.0:8080", "not a loopback"}},
		{"reject/plain-http-public-ip", "issuer: https://auth.example.com\nhttp: {listen: '192.0.2.10:80', tls: {mode: 'off'}}\n", []string{"http.tls.mode", "192.0.2.10:80"}},
		{"reject/plain-http-empty-host", "issuer: https://auth.example.com\nhttp: {listen: ':8080', tls: {mode: 'off'}}\n", []string{"http.tls.mode"}},
		{"reject/http-issuer-not-loopback", "issuer: http://auth.example.com\n", []string{"issuer", "plain http"}},
		{"reject/http-issuer-with-tls", "issuer: http://127.0.0.1:8080\nhttp: {tls: {mode: auto}}\n", []string{"issuer", "speaks https"}},
		{"reject/issuer-with-query", "issuer: https://auth.example.com/?x=1\n", []string{"issuer", "query"}},
		{"reject/issuer-not-url", "issuer: auth.example.com\n", []string{"issuer", "absolute URL"}},
		{"reject/issuer-ftp", "issuer: ftp://auth.example.com\n", []string{"issuer", "https"}},
		{"reject/wildcard-without-issuer", "http: {listen: '0.0.0.0:8443'}\n", []string{"issuer", "cannot be derived"}},
		{"reject/unknown-tls-mode", "http: {tls: {mode: maybe}}\n", []string{"http.tls.mode", "maybe"}},
		{"reject/files-without-paths", "http: {tls: {mode: files}}\n", []string{"http.tls", "cert_file"}},
		{"reject/short-rsa", "keys: {algorithm: RS256, rsa_bits: 1024}\n", []string{"keys.rsa_bits", "1024", "2048"}},
		{"reject/hs256", "keys: {algorithm: HS256}\n", []string{"keys.algorithm", "HS256"}},
		{"reject/alg-none", "keys: {algorithm: none}\n", []string{"keys.algorithm"}},
		{"reject/lowercase-alg", "keys: {algorithm: es256}\n", []string{"keys.algorithm"}},
		{"reject/publish-ahead-shorter-than-cache", "keys: {publish_ahead: 1m, jwks_max_age: 10m}\n", []string{"keys.publish_ahead"}},
		{"reject/rotation-too-short", "keys: {rotation_period: 10m, publish_ahead: 5m}\n", []string{"keys.rotation_period"}},
		{"reject/unknown-driver", "store: {driver: mysql}\n", []string{"store.driver", "mysql"}},
		{"reject/postgres-without-dsn", "store: {driver: postgres}\n", []string{"store.dsn"}},
		{"reject/dsn-with-password", "store: {driver: postgres, dsn: 'postgres://u:hunter2@db/rampart'}\n", []string{"store.dsn", "password"}},
		{"reject/redis-bad-url", "redis: {url: 'http://x'}\n", []string{"redis.url"}},
		{"reject/redis-with-password", "redis: {url: 'redis://:pw@127.0.0.1:6379'}\n", []string{"redis.url", "password"}},
		{"reject/access-ttl-too-long", "tokens: {access_token_ttl: 48h}\n", []string{"tokens.access_token_ttl"}},
		{"reject/negative-body-limit", "http: {max_body_bytes: -1}\n", []string{"http.max_body_bytes"}},
		{"reject/bad-log-level", "log: {level: loud}\n", []string{"log.level"}},
		{"reject/rate-limit-overflow", "rate_limits: {login_per_ip: {rate: 1, period: 24h, burst: 1000000}}\n", []string{"rate_limits.login_per_ip", "too large"}},
		{"reject/device-rate-limit-zero", "rate_limits: {device_code_global: {rate: 0, period: 1m, burst: 5}}\n", []string{"rate_limits.device_code_global"}},
		{"reject/device-client-with-redirect", "clients: [{id: a, public: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], redirect_uris: ['https://a.example/cb']}]\n", []string{"only the authorization_code grant uses redirect URIs"}},
		{"reject/rate-limit-zero-rate", "rate_limits: {login_per_ip: {rate: 0, period: 1m, burst: 5}}\n", []string{"rate_limits.login_per_ip"}},
		{"reject/rate-limit-bad-proxy", "rate_limits: {trusted_proxies: [10.0.0.1]}\n", []string{"rate_limits.trusted_proxies", "CIDR"}},
		{"reject/rate-limit-unknown-key", "rate_limits: {login: {rate: 1}}\n", []string{"unknown key", "rate_limits.login"}},
		{"reject/client-implicit", "clients: [{id: a, public: true, grant_types: [implicit]}]\n", []string{"clients[0] (a).grant_types", "implicit", "OAuth 2.1"}},
		{"reject/client-password-grant", "clients: [{id: a, secret_env: X, grant_types: [password]}]\n", []string{"password", "not supported"}},
		{"reject/client-no-grants", "clients: [{id: a, secret_env: X}]\n", []string{"grant_types", "empty"}},
		{"reject/client-public-with-secret", "clients: [{id: a, public: true, secret_env: X, grant_types: [authorization_code], redirect_uris: ['https://a.example/cb']}]\n", []string{"public client has no secret"}},
		{"reject/client-confidential-without-secret", "clients: [{id: a, grant_types: [client_credentials]}]\n", []string{"secret_env", "secret_hash"}},
		{"reject/client-secret-in-clear", "clients: [{id: a, secret_hash: hunter2hunter2, grant_types: [client_credentials]}]\n", []string{"argon2id PHC"}},
		{"reject/client-public-client-credentials", "clients: [{id: a, public: true, grant_types: [client_credentials]}]\n", []string{"confidential"}},
		{"reject/client-require-mfa-without-code-flow", "clients: [{id: a, secret_env: X, grant_types: [client_credentials], require_mfa: true}]\n", []string{"clients[0] (a).require_mfa", "authorization_code"}},
		{"reject/otp-limit-zero-burst", "rate_limits: {otp_per_user: {rate: 5, period: 15m, burst: 0}}\n", []string{"rate_limits.otp_per_user"}},
		{"reject/client-refresh-without-code", "clients: [{id: a, secret_env: X, grant_types: [client_credentials, refresh_token]}]\n", []string{"refresh_token needs authorization_code"}},
		{"reject/client-code-without-redirect", "clients: [{id: a, public: true, grant_types: [authorization_code]}]\n", []string{"redirect_uris"}},
		{"reject/client-duplicate-id", "clients: [{id: a, secret_env: X, grant_types: [client_credentials]}, {id: a, secret_env: Y, grant_types: [client_credentials]}]\n", []string{"defined twice"}},
		{"reject/client-bad-id", "clients: [{id: 'a b', secret_env: X, grant_types: [client_credentials]}]\n", []string{"clients[0].id", "not a client id"}},
		{"reject/client-unknown-key", "clients: [{id: a, secret: hunter2, grant_types: [client_credentials]}]\n", []string{"unknown key", "clients[].secret"}},
		{"reject/client-ttl-too-long", "clients: [{id: a, secret_env: X, grant_types: [client_credentials], access_token_ttl: 48h}]\n", []string{"access_token_ttl"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse accepted the config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("keys: {algorithm: HS256}\nlog: {level: loud}\n"))
	if err == nil || !strings.Contains(err.Error(), "keys.algorithm") || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestDevDefaults(t *testing.T) {
	c := &Config{Dev: true}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "http://127.0.0.1:8080" || c.HTTP.TLS.Mode != TLSOff || c.DataDir != DefaultDataDir {
		t.Fatalf("dev defaults: issuer %q tls %q data %q", c.Issuer, c.HTTP.TLS.Mode, c.DataDir)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("issuer: http://127.0.0.1:9090\nhttp: {listen: '127.0.0.1:9090'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(good); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "cannot open") {
		t.Fatalf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error should name the file: %v", err)
	}
}

// FuzzParse: no input panics, and an accepted config always validates.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "issuer: http://127.0.0.1:8080\n", "http: {tls: {mode: files}}", "a: &x [1]\nb: *x", "keys: {rsa_bits: 99999999999999999999}", "{{{{", "---\n---\n", "tokens: {access_token_ttl: 9999999999h}",
		"ca: {trust_domain: example.org, listen: '0.0.0.0:8443', hosts: [ca.example.org, '::1']}",
		"ca: {svid_ttl: 10s, max_svid_ttl: 30s, intermediate_ttl: 2m, rotation_propagation: 5s, crl_validity: 10s, join_token_ttl: 1m}",
		"ca: {trust_domain: 'spiffe://x/y', hosts: ['*'], rotation_propagation: -9223372036854775808ns}",
		"issuer: https://A.example\nca: {listen: '[::]:0'}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}
