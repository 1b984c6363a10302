package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

// Client sources.
const (
	SourceConfig = "config"
	SourceCLI    = "cli"
)

// hmacPrefix marks a keyed secret hash.
const hmacPrefix = "hmac-sha256$"

// GenerateSecret returns a new client secret: 256 random bits, base64url
// (43 characters). Its alphabet needs no form encoding, so `curl -u
// id:secret` sends it unchanged (RFC 6749 §2.3.1 form-decodes Basic
// credentials: a '+' of standard base64 would arrive as a space).
func GenerateSecret(rnd io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("oauth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns the stored form of a client secret: an HMAC-SHA-256
// under a key derived from the master key. A slow hash is not needed: the
// secrets are generated with ≥ 256 bits (or required to be ≥ 32
// characters), so they cannot be guessed offline, and a stolen table is
// useless without the master key (docs/threat-model.md, "Client secrets").
func HashSecret(key []byte, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return hmacPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ClientGetter finds the clients made with the CLI (the registry's
// second source, after the configuration).
type ClientGetter interface {
	// GetClient returns the client; store.ErrNotFound if there is none.
	GetClient(ctx context.Context, id string) (*Client, error)
	// PreviousClientSecret returns the hash of a stored client's previous
	// secret while its rotation overlap window is open at now;
	// store.ErrNotFound otherwise.
	PreviousClientSecret(ctx context.Context, id string, now time.Time) (string, error)
}

// Registry finds clients (configuration first, then the store) and
// authenticates them.
type Registry struct {
	fromConfig map[string]*Client
	store      ClientGetter
	secretKey  []byte
	hasher     *identity.Hasher
	dummy      string
	now        func() time.Time
}

// NewRegistry returns a registry over the configured clients and the store.
// hasher verifies argon2id secret hashes from the configuration; give it a
// bounded Hasher of its own (identity.NewBoundedHasher), not the sign-in
// one: anyone can make it check a wrong secret.
func NewRegistry(configured []*Client, s ClientGetter, secretKey []byte, hasher *identity.Hasher) *Registry {
	r := &Registry{fromConfig: map[string]*Client{}, store: s, secretKey: secretKey, hasher: hasher, now: time.Now}
	for _, c := range configured {
		r.fromConfig[c.ID] = c
	}
	r.dummy = HashSecret(secretKey, "rampart dummy secret for unknown clients")
	return r
}

// WithClock makes the registry read the time from now (the end of a
// secret's overlap window); it returns r.
func (r *Registry) WithClock(now func() time.Time) *Registry {
	r.now = now
	return r
}

// Configured returns the configuration's clients, sorted by id.
func (r *Registry) Configured() []*Client {
	out := make([]*Client, 0, len(r.fromConfig))
	for _, c := range r.fromConfig {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Client) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// IsConfigured reports whether id is a configuration client.
func (r *Registry) IsConfigured(id string) bool { _, ok := r.fromConfig[id]; return ok }

// Get returns a client; store.ErrNotFound if there is none or it is
// disabled.
func (r *Registry) Get(ctx context.Context, id string) (*Client, error) {
	if c, ok := r.fromConfig[id]; ok {
		return c, nil
	}
	if !config.ValidClientID(id) {
		return nil, store.ErrNotFound
	}
	c, err := r.store.GetClient(ctx, id)
	if err == nil && c.Disabled {
		// A disabled client is, to every endpoint, a client that does not
		// exist: this is the one check, so the token, PAR, device,
		// introspection and revocation endpoints answer invalid_client
		// (RFC 6749 §5.2), the authorization endpoint shows its error page
		// and never redirects (RFC 6749 §4.1.2.1: the client is not
		// trusted), Authenticate spends the unknown client's dummy HMAC,
		// and introspection calls the client's tokens inactive (RFC 7662
		// §2.2).
		return nil, store.ErrNotFound
	}
	return c, err
}

// errBadClient is the single answer for an unknown client or a wrong
// secret (RFC 6749 §5.2 invalid_client), so neither can be told apart.
var errBadClient = errors.New("oauth: client authentication failed")

// Authenticate checks a client's credentials. secret is "" for a public
// client (method none). An unknown client still costs an HMAC comparison so
// the two failures take about the same time.
func (r *Registry) Authenticate(ctx context.Context, id, secret string, presented bool) (*Client, error) {
	c, err := r.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		verifyHMAC(r.secretKey, r.dummy, secret)
		return nil, errBadClient
	}
	if err != nil {
		return nil, err
	}
	if c.usesPrivateKeyJWT() {
		// It has no secret and authenticates only with an assertion
		// (authenticateAssertion): a secret or nothing is refused.
		verifyHMAC(r.secretKey, r.dummy, secret)
		return nil, errBadClient
	}
	if c.Public {
		// A public client authenticates with method none: it must not
		// present a secret (it cannot hold one, RFC 6749 §2.1).
		if presented {
			return nil, errBadClient
		}
		return c, nil
	}
	if !presented {
		verifyHMAC(r.secretKey, r.dummy, secret)
		return nil, errBadClient
	}
	ok, err := r.verifySecret(ctx, c, secret)
	if err != nil {
		return nil, err
	}
	if !ok && c.Source != SourceConfig && r.store != nil {
		// During a rotation's overlap window the previous secret works
		// too, so the client's deployments can move to the new one
		// without an outage; it stops at the window's end or when retired.
		prev, perr := r.store.PreviousClientSecret(ctx, c.ID, r.now())
		if perr == nil {
			ok = verifyHMAC(r.secretKey, prev, secret)
		} else if !errors.Is(perr, store.ErrNotFound) {
			return nil, perr
		}
	}
	if !ok {
		return nil, errBadClient
	}
	return c, nil
}

func (r *Registry) verifySecret(ctx context.Context, c *Client, secret string) (bool, error) {
	if strings.HasPrefix(c.SecretHash, hmacPrefix) {
		return verifyHMAC(r.secretKey, c.SecretHash, secret), nil
	}
	if strings.HasPrefix(c.SecretHash, "$argon2id$") {
		if len(secret) > identity.MaxPasswordBytes {
			return false, nil
		}
		ok, _, err := r.hasher.Verify(ctx, secret, c.SecretHash)
		if err != nil && ctx.Err() != nil {
			return false, ctx.Err()
		}
		if errors.Is(err, identity.ErrBusy) {
			return false, err // the client-secret budget is spent: 503, not a wrong secret
		}
		return ok && err == nil, nil
	}
	return false, nil
}

func verifyHMAC(key []byte, stored, secret string) bool {
	want := HashSecret(key, secret)
	return subtle.ConstantTimeCompare([]byte(want), []byte(stored)) == 1
}

// ClientFromConfig turns a configuration client that passed
// config.Validate into a Client. secret is the value of its secret_env as
// config.Resolve found and checked it (set, long enough); "" for other
// clients, or when the command resolved no client secrets, and such a
// secret_env client is then listed but can never authenticate (an empty
// stored hash matches nothing). Every check of a client lives in Validate
// and Resolve, run before this is called.
func ClientFromConfig(c config.Client, secret string, secretKey []byte) *Client {
	out := &Client{
		ID: c.ID, Public: c.Public,
		GrantTypes: slices.Clone(c.GrantTypes), RedirectURIs: slices.Clone(c.RedirectURIs),
		Scopes: slices.Clone(c.Scopes), Audience: slices.Clone(c.Audience),
		SkipConsent: c.SkipConsent, ResourceServer: c.ResourceServer, RequireDPoP: c.RequireDPoP, RequireMFA: c.RequireMFA,
		CertificateBoundAccessTokens: c.CertificateBoundAccessTokens,
		AccessTokenTTL:               c.AccessTokenTTL.D(), RefreshTokenTTL: c.RefreshTokenTTL.D(), RefreshTokenIdleTTL: c.RefreshTokenIdleTTL.D(),
		DisplayName: c.DisplayName, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI,
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		Source:                 SourceConfig,
		AuthMethod:             c.EffectiveAuthMethod(), JWKS: slices.Clone([]byte(c.JWKS)), JWKSURI: c.JWKSURI,
		RequirePAR: c.RequirePushedAuthorizationRequests, Profile: c.Profile,
	}
	switch {
	case c.SecretEnv != "" && secret != "":
		out.SecretHash = HashSecret(secretKey, secret)
	case c.SecretHash != "":
		out.SecretHash = c.SecretHash
	}
	return out
}

// CheckClient validates a client's redirect URIs, scopes and audience
// values with the configuration's own rules (config.CheckClientValues), so
// a client made with `rampart client create` and one in the file pass or
// fail alike.
func CheckClient(c *Client) error {
	if err := config.CheckClientValues(c.RedirectURIs, c.Scopes, c.Audience); err != nil {
		return fmt.Errorf("oauth: client %s: %w", c.ID, err)
	}
	method := c.AuthMethod
	if c.usesPrivateKeyJWT() {
		method = config.AuthMethodPrivateKeyJWT
	}
	if err := config.CheckClientAuth(method, c.Public, c.SecretHash != "", c.JWKS, c.JWKSURI); err != nil {
		return fmt.Errorf("oauth: client %s: %w", c.ID, err)
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := config.CheckRedirectURI(u); err != nil {
			return fmt.Errorf("oauth: client %s: post-logout redirect URI %q: %w", c.ID, u, err)
		}
	}
	for _, u := range []string{c.LogoURI, c.PolicyURI, c.TOSURI} {
		if u != "" {
			if err := config.CheckPageURI(u); err != nil {
				return fmt.Errorf("oauth: client %s: %q: %w", c.ID, u, err)
			}
		}
	}
	// fapi: a stored client's profile is held to the same rules as a
	// configured one's (config.CheckProfile).
	if ps := config.CheckProfile(c.Profile, c.Public, c.AuthMethod, c.SecretHash != "", c.JWKS, c.JWKSURI, c.GrantTypes, c.RedirectURIs); len(ps) > 0 {
		return fmt.Errorf("oauth: client %s: %s: %s", c.ID, ps[0].Key, ps[0].Problem)
	}
	return nil
}

// MatchRedirectURI returns the registered URI that requested matches, or
// "". Matching is exact string comparison (RFC 9700 §4.1.3), with one
// exception: for an http loopback URI the port may differ (RFC 8252 §7.3),
// because a native app listens on whatever port the OS gives it. The
// exception is applied to the strings themselves, not to parsed URLs, so
// no parser difference can widen it.
func (c *Client) MatchRedirectURI(requested string) string {
	for _, reg := range c.RedirectURIs {
		if requested == reg {
			return reg
		}
	}
	for _, reg := range c.RedirectURIs {
		if loopbackPortMatch(reg, requested) {
			return requested
		}
	}
	return ""
}

func loopbackPortMatch(reg, req string) bool {
	u, err := url.Parse(reg)
	if err != nil || u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return false // RFC 8252 §8.3: the exception is for loopback IP literals
	}
	host := u.Host
	if p := u.Port(); p != "" {
		host = strings.TrimSuffix(host, ":"+p)
	}
	prefix := "http://" + host
	rest := strings.TrimPrefix(reg, prefix)
	if p := u.Port(); p != "" {
		rest = strings.TrimPrefix(rest, ":"+p)
	}
	if len(req) < len(prefix)+len(rest) || !strings.HasPrefix(req, prefix) || !strings.HasSuffix(req, rest) {
		return false
	}
	mid := req[len(prefix) : len(req)-len(rest)]
	if mid == "" {
		return true
	}
	if mid[0] != ':' || len(mid) < 2 || len(mid) > 6 {
		return false
	}
	port := 0
	for _, ch := range mid[1:] {
		if ch < '0' || ch > '9' {
			return false
		}
		port = port*10 + int(ch-'0')
	}
	return port >= 1 && port <= 65535 && mid[1] != '0'
}

// Allows reports whether the client may use the grant type.
func (c *Client) Allows(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// validScopeToken is config.ValidScopeToken (RFC 6749 §3.3 scope-token).
func validScopeToken(s string) bool { return config.ValidScopeToken(s) }
