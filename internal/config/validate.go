package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// Validate checks the defaulted configuration. It is pure (no files, no
// network, no environment) and returns every problem it finds, each naming
// the key, what is wrong and how to fix it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}

	c.validateIssuer(bad)
	c.validateHTTP(bad)
	c.validateProxies(bad)
	c.validateGateway(bad)
	c.validateCA(bad)
	c.validateSecrets(bad)

	switch c.Store.Driver {
	case DriverSQLite:
	case DriverPostgres:
		if c.Store.DSN == "" && c.Store.DSNEnv == "" {
			bad("store.dsn", "the postgres driver needs a DSN: set store.dsn or store.dsn_env (e.g. postgres://rampart@db:5432/rampart?sslmode=verify-full)")
		}
	default:
		bad("store.driver", "%q is not a driver; use sqlite or postgres", c.Store.Driver)
	}
	if c.Store.DSN != "" && c.Store.DSNEnv != "" {
		bad("store.dsn_env", "set store.dsn or store.dsn_env, not both")
	}
	if c.Store.MaxOpenConns < 1 || c.Store.MaxOpenConns > 1000 {
		bad("store.max_open_conns", "%d is out of range; use 1 to 1000", c.Store.MaxOpenConns)
	}
	if strings.Contains(c.Store.DSN, "password=") || hasURLPassword(c.Store.DSN) {
		bad("store.dsn", "the DSN carries a password in clear; put the DSN in an environment variable and name it with store.dsn_env")
	}

	if c.Redis.URL != "" && c.Redis.URLEnv != "" {
		bad("redis.url_env", "set redis.url or redis.url_env, not both")
	}
	if c.Redis.URL != "" {
		u, err := url.Parse(c.Redis.URL)
		switch {
		case err != nil || !isRedisURL(u):
			bad("redis.url", "%q is not a redis URL; write redis://host:6379/0, rediss://... for TLS, or unix:///path", c.Redis.URL)
		case u.User != nil:
			if _, hasPW := u.User.Password(); hasPW {
				bad("redis.url", "the URL carries a password in clear; put the URL in an environment variable and name it with redis.url_env")
			}
		}
	}

	c.validateKeys(bad)

	if t := c.Tokens.AccessTokenTTL.D(); t < time.Minute || t > 24*time.Hour {
		bad("tokens.access_token_ttl", "%s is out of range; use 1m to 24h (short-lived access tokens limit the damage of a leak; 10m is the default)", t)
	}
	if t := c.Tokens.RefreshTokenTTL.D(); t < time.Minute || t > 8760*time.Hour {
		bad("tokens.refresh_token_ttl", "%s is out of range; use 1m to 8760h", t)
	}

	if t := c.Tokens.RefreshTokenIdleTTL.D(); t < time.Minute || t > c.Tokens.RefreshTokenTTL.D() && c.Tokens.RefreshTokenTTL.D() >= time.Minute {
		bad("tokens.refresh_token_idle_ttl", "%s is out of range; use 1m up to tokens.refresh_token_ttl", t)
	}
	if t := c.Tokens.IDTokenTTL.D(); t < time.Minute || t > 24*time.Hour {
		bad("tokens.id_token_ttl", "%s is out of range; use 1m to 24h", t)
	}
	if t := c.Login.SessionTTL.D(); t < time.Minute || t > 720*time.Hour {
		bad("login.session_ttl", "%s is out of range; use 1m to 720h", t)
	}
	if t := c.Login.SessionIdleTTL.D(); t < time.Minute || t > c.Login.SessionTTL.D() && c.Login.SessionTTL.D() >= time.Minute {
		bad("login.session_idle_ttl", "%s is out of range; use 1m up to login.session_ttl", t)
	}
	c.validateClients(bad)
	c.validatePages(bad)
	for _, rl := range []struct {
		key string
		l   RateLimit
	}{{"rate_limits.login_per_ip", c.RateLimits.LoginPerIP}, {"rate_limits.login_per_username", c.RateLimits.LoginPerUsername},
		{"rate_limits.token_per_client", c.RateLimits.TokenPerClient}, {"rate_limits.token_per_ip", c.RateLimits.TokenPerIP},
		{"rate_limits.client_auth_failures_per_ip", c.RateLimits.ClientAuthFailuresPerIP},
		{"rate_limits.device_code_per_ip", c.RateLimits.DeviceCodePerIP}, {"rate_limits.device_code_global", c.RateLimits.DeviceCodeGlobal},
		{"rate_limits.otp_per_user", c.RateLimits.OTPPerUser}, {"rate_limits.ca_svid_per_ip", c.RateLimits.CASVIDPerIP}} {
		if rl.l.Rate < 1 || rl.l.Rate > 1e6 || rl.l.Burst < 1 || rl.l.Burst > 1e6 || rl.l.Period.D() < time.Millisecond || rl.l.Period.D() > 24*time.Hour ||
			rl.l.Period.D()%time.Millisecond != 0 {
			bad(rl.key, "needs rate 1 to 1e6, burst 1 to 1e6 and a period of whole milliseconds from 1ms to 24h (got rate %d, period %s, burst %d)", rl.l.Rate, rl.l.Period.D(), rl.l.Burst)
		} else if rl.l.Burst > math.MaxInt64/2/int64(rl.l.Period.D()) {
			bad(rl.key, "burst %d × period %s is too large for exact arithmetic; lower the burst or the period", rl.l.Burst, rl.l.Period.D())
		}
	}

	if c.Audit.BatchSize < 1 || c.Audit.BatchSize > 10000 {
		bad("audit.batch_size", "%d is out of range; use 1 to 10000", c.Audit.BatchSize)
	}
	if f := c.Audit.FlushInterval.D(); f < 0 || f > time.Second {
		bad("audit.flush_interval", "%s is out of range; use 0s to 1s (events wait this long for others to share a transaction)", f)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not a level; use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "%q is not a format; use json or text", c.Log.Format)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	return errors.Join(errs...)
}

func (c *Config) validateIssuer(bad func(string, string, ...any)) {
	if c.Issuer == "" {
		bad("issuer", "cannot be derived from http.listen %q (a wildcard address); set the public URL, e.g. https://auth.example.com", c.HTTP.Listen)
		return
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || u.Opaque != "" {
		bad("issuer", "%q is not an absolute URL; write it like https://auth.example.com", c.Issuer)
		return
	}
	// RFC 8414 §2: the issuer is an https URL with no query or fragment.
	// Plain http is tolerated on loopback only, for development (RFC 8252 §8.3).
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		bad("issuer", "%q uses plain http on a host that is not loopback; use https (http is allowed only for 127.0.0.1, ::1 or localhost)", c.Issuer)
	default:
		bad("issuer", "%q must use https", c.Issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("issuer", "%q must not carry a query, a fragment or user info (RFC 8414 §2)", c.Issuer)
	}
	if u.Scheme == "http" && c.HTTP.TLS.Mode != TLSOff {
		bad("issuer", "%q is http but http.tls.mode is %q, so the server speaks https; make the issuer https://, or set http.tls.mode: off (loopback only)", c.Issuer, c.HTTP.TLS.Mode)
	}
}

func (c *Config) validateHTTP(bad func(string, string, ...any)) {
	validateListener("http", c.HTTP.Listen, "127.0.0.1:8080", c.HTTP.TLS, bad)
	if c.HTTP.MaxBodyBytes < 1024 || c.HTTP.MaxBodyBytes > 64<<20 {
		bad("http.max_body_bytes", "%d is out of range; use 1024 to 67108864", c.HTTP.MaxBodyBytes)
	}
	for key, d := range map[string]Duration{
		"http.read_header_timeout": c.HTTP.ReadHeaderTimeout,
		"http.read_timeout":        c.HTTP.ReadTimeout,
		"http.write_timeout":       c.HTTP.WriteTimeout,
		"http.idle_timeout":        c.HTTP.IdleTimeout,
		"http.shutdown_timeout":    c.HTTP.ShutdownTimeout,
	} {
		if d.D() <= 0 || d.D() > time.Hour {
			bad(key, "%s is out of range; use a positive duration up to 1h", d.D())
		}
	}
}

func (c *Config) validateKeys(bad func(string, string, ...any)) {
	switch c.Keys.Algorithm {
	case AlgES256, AlgEdDSA, AlgRS256, AlgPS256:
	default:
		// HS256 and friends are refused: a shared secret across services lets
		// every verifier mint tokens (RFC 8725 §3.2, DESIGN principle 1).
		bad("keys.algorithm", "%q is not supported; use ES256, EdDSA, RS256 or PS256", c.Keys.Algorithm)
	}
	validateFAPIKeys(c, bad)
	if c.Keys.RSABits < MinRSABits {
		bad("keys.rsa_bits", "%d is too short; RSA keys must be at least %d bits (3072 recommended)", c.Keys.RSABits, MinRSABits)
	} else if c.Keys.RSABits > MaxRSABits || c.Keys.RSABits%8 != 0 {
		bad("keys.rsa_bits", "%d is not a sensible size; use 2048, 3072 or 4096", c.Keys.RSABits)
	}
	rp, pa, ma := c.Keys.RotationPeriod.D(), c.Keys.PublishAhead.D(), c.Keys.JWKSMaxAge.D()
	if ma < 0 || ma > 24*time.Hour {
		bad("keys.jwks_max_age", "%s is out of range; use 0s to 24h", ma)
	}
	if pa < ma {
		bad("keys.publish_ahead", "%s is shorter than keys.jwks_max_age %s; a new key must be published for at least one JWKS cache lifetime before it signs", pa, ma)
	}
	if rp < time.Hour {
		bad("keys.rotation_period", "%s is too short; use at least 1h", rp)
	} else if rp <= pa {
		bad("keys.rotation_period", "%s must be longer than keys.publish_ahead %s", rp, pa)
	}
}

// validateListener checks a listener's address and TLS (the keys
// <key>.listen and <key>.tls), the one rule of http and gateway.
func validateListener(key, listen, example string, t TLS, bad func(string, string, ...any)) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		bad(key+".listen", "%q is not host:port; write it like %s", listen, example)
	}
	switch t.Mode {
	case TLSAuto:
	case TLSFiles:
		if t.CertFile == "" || t.KeyFile == "" {
			bad(key+".tls", "mode files needs both cert_file and key_file")
		}
	case TLSOff:
		// DESIGN principle 1: plain HTTP off loopback is refused, not warned.
		if err == nil && !isLoopbackHost(host) {
			bad(key+".tls.mode", "off (plain HTTP) is refused on %q because it is not a loopback address; use mode auto or files, or listen on 127.0.0.1", listen)
		}
	default:
		bad(key+".tls.mode", "%q is not a mode; use auto, files or off", t.Mode)
	}
	if t.Mode != TLSFiles && (t.CertFile != "" || t.KeyFile != "") {
		bad(key+".tls", "cert_file and key_file are used only with mode files")
	}
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackHost is the exported form used by other packages that make the
// same decision (for example the JWKS fetcher).
func IsLoopbackHost(host string) bool { return isLoopbackHost(host) }

func hasURLPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

// isRedisURL reports whether u has a scheme go-redis opens: redis, rediss
// (TLS) or unix. The one rule for redis.url and the value of redis.url_env.
func isRedisURL(u *url.URL) bool {
	return u.Scheme == "redis" || u.Scheme == "rediss" || u.Scheme == "unix"
}
