package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultLeeway = 30 * time.Second
	MaxLeeway     = 60 * time.Second
	// DefaultType is the access-token typ of RFC 9068 §2.1.
	DefaultType = "at+jwt"
)

// DefaultRequiredClaims are required unless Config.RequiredClaims says
// otherwise; "exp" is required in every case.
var DefaultRequiredClaims = []string{"exp", "iat", "iss", "aud", "sub"}

// Config configures a Verifier for one trusted issuer.
type Config struct {
	// Issuer is the exact iss value expected. Required unless SkipIssuer.
	Issuer string
	// Keys finds the issuer's keys (StaticKeys, JWKS). Required.
	Keys KeySource
	// Algorithms is the allowlist (default DefaultAlgorithms). The key's own
	// algorithm must also equal the header's alg.
	Algorithms []string
	// Audiences: the token's aud must contain at least one. Required unless
	// SkipAudience.
	Audiences []string
	// Type is the required typ (default "at+jwt"), compared per RFC 8725
	// §3.11: case-insensitively, with an optional "application/" prefix.
	Type string
	// SkipIssuer, SkipAudience, SkipType disable those checks (for tools such
	// as `rampart jwt verify`); signature, algorithm and time checks remain.
	SkipIssuer, SkipAudience, SkipType bool
	// Leeway for exp, nbf and iat (default 30 s, at most 60 s).
	Leeway time.Duration
	// MaxTokenSize caps the compact token (default 8 KiB).
	MaxTokenSize int
	// RequiredClaims must be present (default DefaultRequiredClaims). "exp"
	// is always required; "jti" is added when DenyList is set.
	RequiredClaims []string
	// RequiredScopes must all be in the scope claim.
	RequiredScopes []string
	// RequiredClaimValues maps a top-level claim to the string value it must
	// have (e.g. {"tenant": "acme"}).
	RequiredClaimValues map[string]string
	// DenyList, when set, is consulted for the jti on every verification,
	// cached or not; its errors reject the token (fail closed).
	DenyList DenyList
	// CacheSize bounds the verified-token cache (entries; 0 = default
	// 10,000; negative disables it).
	CacheSize int
	// CacheMaxAge bounds how long a verified token is served from the cache
	// without re-verification (default 5 m), so a key removed from the issuer
	// stops being trusted within that time even for cached tokens.
	CacheMaxAge time.Duration
	// DPoP configures proof-of-possession checks for VerifyDPoP.
	DPoP     DPoPConfig
	Clock    func() time.Time
	Observer Observer
}

// Verifier checks tokens of one issuer. It is safe for concurrent use.
type Verifier struct {
	cfg      Config
	algs     map[string]bool
	types    []string // normalized accepted typ values
	required []string
	cache    *tokenCache
	dpop     *dpopState
	obs      Observer
	now      func() time.Time
}

// New validates cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("jwtauth: Config.Keys is required")
	}
	if cfg.Issuer == "" && !cfg.SkipIssuer {
		return nil, errors.New("jwtauth: Config.Issuer is required (or set SkipIssuer)")
	}
	if len(cfg.Audiences) == 0 && !cfg.SkipAudience {
		return nil, errors.New("jwtauth: Config.Audiences is required (or set SkipAudience)")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("jwtauth: leeway must be between 0 and %s", MaxLeeway)
	}
	if cfg.MaxTokenSize <= 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if cfg.Type == "" {
		cfg.Type = DefaultType
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	algs := make(map[string]bool, len(cfg.Algorithms))
	for _, a := range cfg.Algorithms {
		if a == "" || strings.EqualFold(a, "none") {
			return nil, errors.New("jwtauth: \"none\" can never be allowed")
		}
		if _, ok := map[string]bool{RS256: true, RS384: true, RS512: true, PS256: true, PS384: true, PS512: true,
			ES256: true, ES384: true, ES512: true, EdDSA: true, HS256: true, HS384: true, HS512: true}[a]; !ok {
			return nil, fmt.Errorf("jwtauth: unknown algorithm %q", a)
		}
		algs[a] = true
	}
	if cfg.CacheMaxAge <= 0 {
		cfg.CacheMaxAge = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	required := cfg.RequiredClaims
	if required == nil {
		required = DefaultRequiredClaims
	}
	required = append([]string{"exp"}, required...)
	if cfg.DenyList != nil {
		required = append(required, "jti")
	}
	slices.Sort(required)
	required = slices.Compact(required)
	v := &Verifier{cfg: cfg, algs: algs, required: required, obs: cfg.Observer, now: cfg.Clock,
		types: []string{normalizeType(cfg.Type)}}
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = 10000
		}
		v.cache = newTokenCache(size)
	}
	if err := v.initDPoP(); err != nil {
		return nil, err
	}
	return v, nil
}

// normalizeType implements the RFC 8725 §3.11 / RFC 7515 §4.1.9 comparison:
// case-insensitive, "application/" prefix optional.
func normalizeType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// Verify checks a bearer token. A DPoP-bound token (one with cnf.jkt) is
// rejected here: it must come with its proof through VerifyDPoP
// (RFC 9449 §7.1).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token)
	if err == nil && c.JKT != "" {
		err = reject(ReasonDPoPRequired, "DPoP-bound token presented as a bearer token")
	}
	return v.done(c, err)
}

func (v *Verifier) done(c *Claims, err error) (*Claims, error) {
	if err != nil {
		v.obs.Rejected(v.cfg.Issuer, ReasonOf(err))
		return nil, err
	}
	return c, nil
}

// verify runs every check except the DPoP binding.
func (v *Verifier) verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > v.cfg.MaxTokenSize {
		return nil, reject(ReasonTooLarge, "token of %d bytes exceeds %d", len(token), v.cfg.MaxTokenSize)
	}
	now := v.now()
	var key [32]byte
	if v.cache != nil {
		key = tokenHash(token)
		if c, ok := v.cache.get(key, now); ok {
			if err := v.checkLive(ctx, c, now); err != nil {
				return nil, err
			}
			v.obs.Verified(v.cfg.Issuer, true)
			return c, nil
		}
	}
	c, err := v.verifyFull(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		until := c.ExpiresAt.Add(v.cfg.Leeway)
		if maxAge := now.Add(v.cfg.CacheMaxAge); maxAge.Before(until) {
			until = maxAge
		}
		v.cache.put(key, c, until, now)
	}
	v.obs.Verified(v.cfg.Issuer, false)
	return c, nil
}

// checkLive repeats, on a cache hit, the checks that change with time or
// state: expiry and the deny list.
func (v *Verifier) checkLive(ctx context.Context, c *Claims, now time.Time) error {
	if now.After(c.ExpiresAt.Add(v.cfg.Leeway)) {
		return reject(ReasonExpired, "token expired at %s", c.ExpiresAt.Format(time.RFC3339))
	}
	return v.checkDenyList(ctx, c)
}

func (v *Verifier) checkDenyList(ctx context.Context, c *Claims) error {
	if v.cfg.DenyList == nil {
		return nil
	}
	revoked, err := v.cfg.DenyList.IsRevoked(ctx, c.ID)
	if err != nil {
		return &Error{Reason: ReasonDenyListError, Detail: "deny list unavailable", Err: err}
	}
	if revoked {
		return reject(ReasonRevoked, "jti is revoked")
	}
	return nil
}

func (v *Verifier) verifyFull(ctx context.Context, token string, now time.Time) (*Claims, error) {
	p, err := parseCompact(token, v.cfg.MaxTokenSize, false)
	if err != nil {
		return nil, err
	}
	key, err := v.keyFor(ctx, &p.header)
	if err != nil {
		return nil, err
	}
	if !verifySignature(key, p.signingInput, p.signature) {
		return nil, reject(ReasonBadSignature, "signature does not verify with key %q", key.ID)
	}
	// Only now, with an authentic token, are header typ and claims read.
	if !v.cfg.SkipType && !slices.Contains(v.types, normalizeType(p.header.Typ)) {
		return nil, reject(ReasonType, "typ %q, want %q", p.header.Typ, v.cfg.Type)
	}
	c, rc, err := decodeClaims(p.payload)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(ctx, c, rc, now); err != nil {
		return nil, err
	}
	return c, nil
}

// keyFor selects the key and pins the algorithm.
func (v *Verifier) keyFor(ctx context.Context, h *header) (*Key, error) {
	if !v.algs[h.Alg] {
		return nil, reject(ReasonAlgNotAllowed, "alg %q is not allowed", h.Alg)
	}
	key, err := v.cfg.Keys.Key(ctx, h.Kid)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return nil, reject(ReasonUnknownKey, "no key for this kid")
	case err != nil:
		return nil, &Error{Reason: ReasonKeySourceError, Detail: "keys unavailable", Err: err}
	}
	// RFC 8725 §3.1: the key's algorithm, not the header, decides.
	if key.Algorithm != h.Alg || !v.algs[key.Algorithm] {
		return nil, reject(ReasonAlgNotAllowed, "header alg %q does not match key %q (%s)", h.Alg, key.ID, key.Algorithm)
	}
	return key, nil
}

func (v *Verifier) checkClaims(ctx context.Context, c *Claims, rc *rawClaims, now time.Time) error {
	for _, name := range v.required {
		if !present(rc, c.Raw, name) {
			return reject(ReasonMissingClaim, "%s is required", name)
		}
	}
	lw := v.cfg.Leeway
	switch {
	case now.After(c.ExpiresAt.Add(lw)):
		return reject(ReasonExpired, "token expired at %s", c.ExpiresAt.Format(time.RFC3339))
	case !c.NotBefore.IsZero() && now.Add(lw).Before(c.NotBefore):
		return reject(ReasonNotYetValid, "token not valid before %s", c.NotBefore.Format(time.RFC3339))
	case !c.IssuedAt.IsZero() && now.Add(lw).Before(c.IssuedAt):
		return reject(ReasonIssuedInFuture, "token issued at %s, in the future", c.IssuedAt.Format(time.RFC3339))
	}
	if !v.cfg.SkipIssuer && c.Issuer != v.cfg.Issuer {
		return reject(ReasonIssuer, "iss %q, want %q", clip(c.Issuer), v.cfg.Issuer)
	}
	if !v.cfg.SkipAudience && !containsAny(c.Audience, v.cfg.Audiences) {
		return reject(ReasonAudience, "aud %s contains no expected audience", clip(fmt.Sprintf("%q", c.Audience)))
	}
	for _, s := range v.cfg.RequiredScopes {
		if !c.HasScope(s) {
			return reject(ReasonScope, "scope %q missing", s)
		}
	}
	if len(v.cfg.RequiredClaimValues) > 0 {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.Raw, &m); err != nil {
			return reject(ReasonBadClaim, "payload")
		}
		for name, want := range v.cfg.RequiredClaimValues {
			var got string
			if raw, ok := m[name]; !ok || json.Unmarshal(raw, &got) != nil || got != want {
				return reject(ReasonClaimValue, "claim %q does not have the required value", name)
			}
		}
	}
	return v.checkDenyList(ctx, c)
}

// present reports whether claim name is in the payload.
func present(rc *rawClaims, raw json.RawMessage, name string) bool {
	switch name {
	case "exp":
		return rc.Exp != nil
	case "iat":
		return rc.Iat != nil
	case "nbf":
		return rc.Nbf != nil
	case "iss":
		return rc.Iss != nil
	case "aud":
		return rc.Aud != nil
	case "sub":
		return rc.Sub != nil
	case "jti":
		return rc.Jti != nil
	case "client_id":
		return rc.ClientID != nil
	case "scope":
		return rc.Scope != nil
	}
	return hasMember(raw, name)
}

func hasMember(raw json.RawMessage, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, ok := m[name]
	return ok
}

func containsAny(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}
