package config

import (
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Default values, in one place. Security-relevant ones carry their reason.
const (
	DefaultDataDir = "./rampart-data"
	DefaultListen  = "127.0.0.1:8080"
	// DefaultMaxBodyBytes bounds request bodies; OAuth forms and admin JSON
	// are small, so 1 MiB is generous and still stops memory exhaustion
	// (OWASP REST Security Cheat Sheet, "Input validation").
	DefaultMaxBodyBytes = 1 << 20
	// DefaultRSABits: NIST SP 800-57 Pt.1 Rev.5 puts 2048-bit RSA at 112-bit
	// strength, acceptable until 2030; 3072 is 128-bit and the safe default.
	DefaultRSABits = 3072
	// MinRSABits is the floor from RFC 7518 §3.3 and NIST SP 800-131A.
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Defaults fills every unset key with its default. It is the only place
// defaults are decided; call it once after Decode and before Validate.
func (c *Config) Defaults() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.HTTP.TLS.Mode == "" {
		// An explicit http:// issuer (allowed on loopback only) and dev mode
		// mean plain HTTP on loopback; everything else gets TLS.
		if strings.HasPrefix(c.Issuer, "http://") || c.Dev {
			c.HTTP.TLS.Mode = TLSOff
		} else {
			c.HTTP.TLS.Mode = TLSAuto
		}
	}
	if c.Issuer == "" {
		c.Issuer = deriveIssuer(c.HTTP.Listen, c.HTTP.TLS.Mode)
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
	c.defaultProxies()
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = DefaultMaxBodyBytes
	}
	// Slowloris protection: a client must send its headers within 5 s
	// (OWASP DoS Cheat Sheet); whole requests and responses are bounded too.
	setDur(&c.HTTP.ReadHeaderTimeout, 5*time.Second)
	setDur(&c.HTTP.ReadTimeout, 30*time.Second)
	setDur(&c.HTTP.WriteTimeout, 30*time.Second)
	setDur(&c.HTTP.IdleTimeout, 120*time.Second)
	setDur(&c.HTTP.ShutdownTimeout, 20*time.Second)
	c.defaultGateway()
	c.defaultCA()
	c.defaultSecrets()

	if c.Store.Driver == "" {
		c.Store.Driver = DriverSQLite
	}
	if c.Store.Driver == DriverSQLite && c.Store.DSN == "" && c.Store.DSNEnv == "" {
		c.Store.DSN = filepath.Join(c.DataDir, "rampart.db")
	}
	if c.Store.MaxOpenConns == 0 {
		c.Store.MaxOpenConns = 16
	}

	if c.Keys.Algorithm == "" {
		// ES256: small keys and signatures, fast, universally supported by
		// OIDC clients; RFC 8725 §3.2 prefers modern asymmetric algorithms.
		c.Keys.Algorithm = AlgES256
	}
	if c.Keys.RSABits == 0 {
		c.Keys.RSABits = DefaultRSABits
	}
	setDur(&c.Keys.RotationPeriod, 720*time.Hour)
	// A new key is published an hour before it signs: well over the JWKS
	// max-age below and the refresh interval of common JWKS caches.
	setDur(&c.Keys.PublishAhead, time.Hour)
	setDur(&c.Keys.JWKSMaxAge, 5*time.Minute)

	// Access tokens are short-lived because they are bearer credentials
	// that are not checked against the server (RFC 9700 §2.2.2 / §4.10).
	setDur(&c.Tokens.AccessTokenTTL, 10*time.Minute)
	setDur(&c.Tokens.RefreshTokenTTL, 720*time.Hour)
	// A refresh token unused for a week is more likely stolen than
	// forgotten by a live client (RFC 9700 §4.14.2 on refresh token
	// expiry after inactivity).
	setDur(&c.Tokens.RefreshTokenIdleTTL, min(168*time.Hour, c.Tokens.RefreshTokenTTL.D()))
	// ID tokens are consumed once, at login; an hour matches common
	// providers and bounds how long a leaked one is accepted.
	setDur(&c.Tokens.IDTokenTTL, time.Hour)
	// A login session lasts a working day (OWASP Session Management Cheat
	// Sheet: absolute timeouts of a few hours for most applications).
	setDur(&c.Login.SessionTTL, 12*time.Hour)
	// Idle timeout: the upper end of OWASP's 15-30 minutes for low-risk
	// applications (Session Management Cheat Sheet, "Session
	// Expiration"); identity.DefaultIdleTTL explains why it fits an
	// identity provider's session. Never longer than the absolute one.
	setDur(&c.Login.SessionIdleTTL, min(30*time.Minute, c.Login.SessionTTL.D()))
	// Sign-in: 30 attempts a minute per address stops spraying from one
	// host; 10 attempts per 15 minutes per username stops guessing one
	// account from many hosts (OWASP Authentication Cheat Sheet, "Account
	// lockout"; NIST SP 800-63B §5.2.2 allows at most 100 failures).
	setLimit(&c.RateLimits.LoginPerIP, 30, time.Minute, 30)
	setLimit(&c.RateLimits.LoginPerUsername, 10, 15*time.Minute, 10)
	// Token requests: generous for a service, a ceiling for a runaway or
	// stolen client.
	setLimit(&c.RateLimits.TokenPerClient, 50, time.Second, 100)
	// Before client authentication: every request from one address
	// (raise it for a resource server introspecting more often from one
	// host), and 30 failed authentications per client id and address per 10
	// minutes (Keycloak's default failure factor is 30), which stops online
	// guessing of a client secret (3 guesses a minute sustained; OWASP
	// Authentication Cheat Sheet, "Protect against automated attacks")
	// while a misconfigured deployment retrying a stale secret a few times
	// does not lock itself out at once.
	setLimit(&c.RateLimits.TokenPerIP, 100, time.Second, 200)
	setLimit(&c.RateLimits.ClientAuthFailuresPerIP, 30, 10*time.Minute, 30)
	// User codes (RFC 8628 §5.1): 20 submissions per 10 minutes from one
	// address is plenty for a person mistyping; 600 a minute for everyone
	// bounds a distributed guesser to 6000 guesses in a code's 10-minute
	// life, a chance of 6000/20^8 ≈ 2.3e-7 per live code.
	setLimit(&c.RateLimits.DeviceCodePerIP, 20, 10*time.Minute, 20)
	setLimit(&c.RateLimits.DeviceCodeGlobal, 600, time.Minute, 600)
	// Second-factor attempts per user: 5 per 15 minutes. A 6-digit code
	// with ±1 step has 3 valid values in 10^6, so 5 guesses succeed with
	// probability 1.5e-5 per window (RFC 4226 §7.3 / RFC 6238 §5.2 ask for
	// throttling); the user's own typos leave room for a retry.
	setLimit(&c.RateLimits.OTPPerUser, 5, 15*time.Minute, 5)
	// Enrolment: an agent asks once at start and then at half of its
	// SVID's lifetime, so 60 a minute per address leaves room for a host
	// (or a NAT) full of agents starting at once, and bounds join-token
	// guessing and signing work from one address (OWASP Denial of
	// Service Cheat Sheet).
	setLimit(&c.RateLimits.CASVIDPerIP, 60, time.Minute, 60)

	if c.Audit.BatchSize == 0 {
		c.Audit.BatchSize = 512
	}

	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
}

func setLimit(l *RateLimit, rate int64, period time.Duration, burst int64) {
	if l.Rate == 0 && l.Period == 0 && l.Burst == 0 {
		*l = RateLimit{Rate: rate, Period: Duration(period), Burst: burst}
	}
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// deriveIssuer builds the issuer from the listen address when it names a
// concrete host. A wildcard address cannot name the server, so the issuer is
// left empty and Validate asks for it.
func deriveIssuer(listen, tlsMode string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	scheme := "https"
	if tlsMode == TLSOff {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
