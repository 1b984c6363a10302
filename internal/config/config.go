// Package config loads Rampart's YAML configuration: strict decoding
// (unknown keys and wrong types are errors), defaults applied in one place
// (Defaults), and a pure Validate that explains what is wrong and how to fix
// it. The result is an immutable value; nothing is parsed per request.
package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file. Every key is optional; Defaults
// fills what is missing.
type Config struct {
	// Issuer is the OAuth issuer identifier (RFC 8414 §2): https, or http
	// on a loopback host only.
	Issuer string `yaml:"issuer"`
	// DataDir holds the SQLite database, the dev master key and the TLS CA.
	DataDir string `yaml:"data_dir"`
	HTTP    HTTP   `yaml:"http"`
	Store   Store  `yaml:"store"`
	Redis   Redis  `yaml:"redis"`
	// MasterKeyFile names a file with the 32-byte master key (base64 or
	// hex). When empty, RAMPART_MASTER_KEY is used; dev mode generates one.
	MasterKeyFile string `yaml:"master_key_file"`
	Keys          Keys   `yaml:"keys"`
	Tokens        Tokens `yaml:"tokens"`
	Login         Login  `yaml:"login"`
	// RateLimits protects Rampart's own endpoints.
	RateLimits RateLimits `yaml:"rate_limits"`
	// Clients are declarative OAuth clients, applied at start (they live
	// in memory; `rampart client create` adds clients to the store).
	Clients []Client `yaml:"clients"`
	// OAuth holds the authorization server's global protocol switches.
	OAuth OAuth `yaml:"oauth"`
	Audit Audit `yaml:"audit"`
	Log   Log   `yaml:"log"`
	// Gateway configures the identity-aware reverse proxy (docs/gateway.md);
	// nil runs no gateway listener.
	Gateway *Gateway `yaml:"gateway"`
	// UI brands the pages people see.
	UI UI `yaml:"ui"`
	// CA configures the internal certificate authority and its enrolment
	// listener (docs/mtls.md).
	CA CA `yaml:"ca"`
	// Secrets configures the secrets manager (docs/secrets.md).
	Secrets Secrets `yaml:"secrets"`

	// Dev is set by `rampart serve --dev` (or serve with no config); it is
	// never read from the file.
	Dev bool `yaml:"-"`
	// File is the path the configuration was loaded from ("" for the dev
	// defaults), set by Load. Hints that name a command repeat it
	// (`rampart migrate --config FILE`); it is never read from the file.
	File string `yaml:"-"`
}

// HTTP configures the main listener (OAuth endpoints, pages, admin API).
type HTTP struct {
	Listen string `yaml:"listen"`
	TLS    TLS    `yaml:"tls"`
	// TrustedProxies are the networks (CIDRs; /32 for one address) of the
	// proxies whose ClientIPHeader is believed; the client address they name
	// is the one used by rate limits, audit events and the access log.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ClientIPHeader is the one header those proxies write: x-forwarded-for
	// (default) or forwarded (RFC 7239). The other is never read.
	ClientIPHeader string `yaml:"client_ip_header"`
	// MaxBodyBytes caps every request body (default 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Timeouts of the server; see docs/configuration.md.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
}

// TLS modes.
const (
	TLSAuto  = "auto"
	TLSFiles = "files"
	TLSOff   = "off"
)

// TLS selects how the listener gets its certificate.
type TLS struct {
	Mode     string `yaml:"mode"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Store selects the database.
type Store struct {
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string, or a SQLite file path.
	DSN string `yaml:"dsn"`
	// DSNEnv names an environment variable holding the DSN (it may carry a
	// password, so it can stay out of the file).
	DSNEnv string `yaml:"dsn_env"`
	// MaxOpenConns bounds the pool (PostgreSQL; SQLite uses its own rule).
	MaxOpenConns int `yaml:"max_open_conns"`
}

// Redis configures the optional shared counters and caches.
type Redis struct {
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
}

// Signing algorithms. Exactly one per key (DESIGN "pin, don't negotiate").
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
	AlgPS256 = "PS256"
)

// Keys configures token signing keys.
type Keys struct {
	Algorithm string `yaml:"algorithm"`
	// RSABits is the modulus size for RS256/PS256 keys (minimum 2048).
	RSABits int `yaml:"rsa_bits"`
	// RotationPeriod is how long a key signs before the next one takes over.
	RotationPeriod Duration `yaml:"rotation_period"`
	// PublishAhead is how long a new key is published in the JWKS before it
	// signs; it must be at least JWKSMaxAge so every cache has seen it.
	PublishAhead Duration `yaml:"publish_ahead"`
	// JWKSMaxAge is the Cache-Control max-age of the JWKS document.
	JWKSMaxAge Duration `yaml:"jwks_max_age"`
}

// Tokens configures token lifetimes.
type Tokens struct {
	AccessTokenTTL Duration `yaml:"access_token_ttl"`
	// RefreshTokenTTL is the absolute lifetime of a refresh-token family:
	// rotation never extends it.
	RefreshTokenTTL Duration `yaml:"refresh_token_ttl"`
	// RefreshTokenIdleTTL ends a family that is not used for this long.
	RefreshTokenIdleTTL Duration `yaml:"refresh_token_idle_ttl"`
	IDTokenTTL          Duration `yaml:"id_token_ttl"`
}

// Login configures browser sign-in.
type Login struct {
	// SessionTTL is how long a login session lasts (absolute).
	SessionTTL Duration `yaml:"session_ttl"`
	// SessionIdleTTL ends a session unused for that long.
	SessionIdleTTL Duration `yaml:"session_idle_ttl"`
}

// RateLimits configures the limits on Rampart's own endpoints.
type RateLimits struct {
	// TrustedProxies is the deprecated alias of http.trusted_proxies: used
	// when only it is set (with a notice), refused when it differs.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// LoginPerIP limits sign-in attempts from one address (IPv6: /64).
	LoginPerIP RateLimit `yaml:"login_per_ip"`
	// LoginPerUsername limits sign-in attempts on one username, whether
	// or not it exists; past half of the burst each attempt is delayed
	// progressively, and an exhausted bucket locks the name until it
	// refills.
	LoginPerUsername RateLimit `yaml:"login_per_username"`
	// TokenPerClient limits token requests of one authenticated client
	// (of a public client: per client and address, since anyone can send
	// its id).
	TokenPerClient RateLimit `yaml:"token_per_client"`
	// TokenPerIP limits requests to the token, revocation and
	// introspection endpoints from one address, before the client is
	// authenticated.
	TokenPerIP RateLimit `yaml:"token_per_ip"`
	// ClientAuthFailuresPerIP limits failed client authentications of one
	// client id from one address; once spent, that id is refused from that
	// address, whatever the secret, until the budget refills.
	ClientAuthFailuresPerIP RateLimit `yaml:"client_auth_failures_per_ip"`

	// Device authorization grant (RFC 8628 §5.1, user-code guessing):
	// DeviceCodePerIP limits user-code submissions on the device page from
	// one address, DeviceCodeGlobal all of them together (a guesser with
	// many addresses still gets no more than this).
	DeviceCodePerIP  RateLimit `yaml:"device_code_per_ip"`
	DeviceCodeGlobal RateLimit `yaml:"device_code_global"`
	// OTPPerUser limits second-factor attempts (TOTP or recovery codes)
	// on one user, separately from the password limits; once spent, the
	// sign-in attempt ends and no code is accepted until it refills.
	OTPPerUser RateLimit `yaml:"otp_per_user"`
	// CASVIDPerIP limits requests to the CA's enrolment endpoint (POST
	// /ca/v1/svid) from one address, before any credential is checked.
	CASVIDPerIP RateLimit `yaml:"ca_svid_per_ip"`
}

// RateLimit is Rate requests per Period with bursts of up to Burst.
type RateLimit struct {
	Rate   int64    `yaml:"rate"`
	Period Duration `yaml:"period"`
	Burst  int64    `yaml:"burst"`
}

// Grant types a client may be allowed.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	// GrantDeviceCode is the device authorization grant (RFC 8628 §3.4).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client is a declarative OAuth client. A confidential client names its
// secret with exactly one of SecretEnv (an environment variable holding
// the secret, at least 32 characters) and SecretHash (an argon2id PHC
// string); a public client has neither.
type Client struct {
	ID             string   `yaml:"id"`
	SecretEnv      string   `yaml:"secret_env"`
	SecretHash     string   `yaml:"secret_hash"`
	Public         bool     `yaml:"public"`
	GrantTypes     []string `yaml:"grant_types"`
	RedirectURIs   []string `yaml:"redirect_uris"`
	Scopes         []string `yaml:"scopes"`
	Audience       []string `yaml:"audience"`
	SkipConsent    bool     `yaml:"skip_consent"`
	ResourceServer bool     `yaml:"resource_server"`
	// RequireDPoP: the client's token requests must carry a DPoP proof
	// (RFC 9449 §5); every token it gets is then sender-constrained.
	RequireDPoP bool `yaml:"require_dpop"`
	// CertificateBoundAccessTokens: the client's token requests must come
	// to the token endpoint's mTLS alias (ca.external_url) with a valid
	// X509-SVID, so every access token it gets is bound to the certificate
	// (RFC 8705 §3.4: tls_client_certificate_bound_access_tokens).
	CertificateBoundAccessTokens bool `yaml:"certificate_bound_access_tokens"`
	// RequireMFA makes every authorization for the client need a sign-in
	// with the second factor (amr otp): a session without it steps up.
	RequireMFA bool `yaml:"require_mfa"`
	// Lifetimes; empty means the tokens.* default.
	AccessTokenTTL      Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL     Duration `yaml:"refresh_token_ttl"`
	RefreshTokenIdleTTL Duration `yaml:"refresh_token_idle_ttl"`

	// parjwt: client authentication method and keys (RFC 7523), PAR (RFC 9126).
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt or none; empty means the default of the client's
	// kind (basic or post for a secret, none for a public client).
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	// JWKS (an inline JWK Set, YAML or JSON) or JWKSURI (https, or http on
	// a loopback host): the public keys of a private_key_jwt client.
	JWKS    JWKSet `yaml:"jwks"`
	JWKSURI string `yaml:"jwks_uri"`
	// RequirePushedAuthorizationRequests: the client's authorization
	// requests must come through PAR (RFC 9126 §6).
	RequirePushedAuthorizationRequests bool `yaml:"require_pushed_authorization_requests"`
	// What the pages show of the client: a name, and https links to its
	// logo, privacy policy and terms of service.
	DisplayName string `yaml:"display_name"`
	LogoURI     string `yaml:"logo_uri"`
	PolicyURI   string `yaml:"policy_uri"`
	TOSURI      string `yaml:"tos_uri"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return the
	// browser (OpenID Connect RP-Initiated Logout 1.0 §3), exact strings.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`

	// fapi: Profile is "" (none) or "fapi2": the client follows the FAPI
	// 2.0 Security Profile (clients_fapi.go), which validation enforces
	// and the authorization server applies at run time.
	Profile string `yaml:"profile"`
}

// OAuth holds global switches of the authorization server.
type OAuth struct {
	DPoP DPoP `yaml:"dpop"`
	// RequirePushedAuthorizationRequests: every client must push its
	// authorization requests (RFC 9126 §5).
	RequirePushedAuthorizationRequests bool `yaml:"require_pushed_authorization_requests"`
	// Scopes describe scopes for people: scope id to a short sentence
	// shown on consent pages ("Read your notes").
	Scopes map[string]string `yaml:"scopes"`
}

// DPoP configures DPoP at the token endpoint (RFC 9449).
type DPoP struct {
	// Nonce: proofs at the token endpoint must carry a server nonce
	// (RFC 9449 §8), answered with use_dpop_nonce and a DPoP-Nonce header
	// otherwise. Default false; FAPI 2.0 deployments turn it on.
	Nonce bool `yaml:"nonce"`
}

// UI brands the pages people see.
type UI struct {
	// ProductName replaces "Rampart" in page titles and headers.
	ProductName string `yaml:"product_name"`
	// LogoFile is a PNG, JPEG, GIF, WebP or SVG file (at most 256 KiB)
	// shown at the top of every page, served from Rampart itself.
	LogoFile string `yaml:"logo_file"`
}

// Audit configures the audit trail.
type Audit struct {
	// BatchSize and FlushInterval bound how many events one transaction
	// appends and how long an event may wait for others to join it.
	BatchSize     int      `yaml:"batch_size"`
	FlushInterval Duration `yaml:"flush_interval"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | text
}

// Duration is a time.Duration written as a Go duration string ("10m",
// "720h") in YAML. Numbers are refused: a bare 600 is ambiguous (seconds
// to a Keycloak user, nanoseconds to time.Duration).
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration; write it like 90s, 10m or 720h", string(b))
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML accepts a scalar holding a Go duration string and refuses
// numbers, lists and mappings, so any decoder of the YAML (not only
// Decode, which checks first) sees `600` as the mistake it is.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDurationNode(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// parseDurationNode parses one YAML node as a Duration; its errors say how
// to write the value.
func parseDurationNode(n *yaml.Node) (Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New("must be a duration like 90s, 10m or 720h, not a list or mapping")
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		like := n.Value + "s"
		if m, err := strconv.ParseInt(n.Value, 10, 64); err == nil && m != 0 && m%60 == 0 {
			like += " or " + strconv.FormatInt(m/60, 10) + "m"
		}
		return 0, fmt.Errorf("%s is a number, not a duration; write it with a unit, like %s", n.Value, like)
	}
	var d Duration
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return 0, err
	}
	return d, nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }
