package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The identity assertion Rampart's gateway sends to upstream services.
const (
	// AssertionType is the assertion's typ header. It differs from every
	// other JWT type Rampart issues (at+jwt, JWT, dpop+jwt), so no access
	// or ID token can pass as an assertion and no assertion as an access
	// token (cross-JWT confusion, RFC 8725 §3.11 and §3.12).
	AssertionType = "rampart-assertion+jwt"
	// AssertionHeader is the request header that carries the assertion.
	AssertionHeader = "X-Rampart-Assertion"
	// MaxAssertionSize caps a serialized assertion (4 KiB): the gateway
	// refuses to mint a larger one, the verifier refuses to parse one.
	MaxAssertionSize = 4 << 10
	// MaxAssertionLifetime bounds exp − iat. An assertion is meant for one
	// hop of one request; a long-lived one is a stolen credential waiting
	// to happen (RFC 7521 §5.2 asks for a short validity window).
	MaxAssertionLifetime = 60 * time.Second
	// DefaultAssertionLeeway is the clock skew allowed between the gateway
	// and the service when AssertionConfig.Leeway is zero.
	DefaultAssertionLeeway = 5 * time.Second
)

// Rejection reasons specific to assertions.
const (
	ReasonAssertionReplay  Reason = "assertion_replay"   // the assertion's jti was already used
	ReasonReplayCacheError Reason = "replay_cache_error" // the replay cache could not answer (fail closed)
)

// AssertionConfig configures an AssertionVerifier.
type AssertionConfig struct {
	// Issuer is the gateway's issuer (Rampart's issuer URL), compared
	// exactly. Required.
	Issuer string
	// Keys finds the issuer's keys: a JWKS over Rampart's
	// /.well-known/jwks.json, or StaticKeys. Required.
	Keys KeySource
	// Audience is this service's own origin (scheme://host[:port]), as the
	// gateway's route names it as an upstream. It is normalized with
	// NormalizeOrigin and the assertion's aud must be exactly it. Required.
	Audience string
	// Algorithms is the allowlist (default DefaultAlgorithms); "none" and
	// the HMAC algorithms are never allowed, and the key's own algorithm
	// must equal the header's.
	Algorithms []string
	// Leeway for exp and iat (default 5 s, at most 60 s).
	Leeway time.Duration
	// Replay makes each assertion single-use: its jti is recorded until it
	// expires, and a second presentation is refused. Required; services with
	// several instances share a RedisReplayCache.
	Replay   ReplayCache
	Clock    func() time.Time
	Observer Observer
}

// Assertion is a verified identity assertion.
type Assertion struct {
	Issuer   string
	Audience string
	// Subject is the end user or client the gateway authenticated. It is ""
	// exactly when the route is `auth: none`: the gateway then omits sub,
	// and an assertion whose sub is present but empty is refused, so "no
	// user" has one spelling and cannot be confused with a user whose id
	// is the empty string.
	Subject   string
	ClientID  string // "" on auth: none routes (client_id omitted)
	Scope     string // space-separated scopes; "" when none
	Route     string // the gateway route's name
	RequestID string // rid: the gateway's request id, for correlating logs
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time

	scopes []string
}

// Scopes returns the scope claim split on spaces.
func (a *Assertion) Scopes() []string { return a.scopes }

// HasScope reports whether the assertion carries scope s.
func (a *Assertion) HasScope(s string) bool {
	for _, x := range a.scopes {
		if x == s {
			return true
		}
	}
	return false
}

// AssertionVerifier checks gateway assertions for one service. It is safe
// for concurrent use.
type AssertionVerifier struct {
	v      *Verifier
	aud    string
	replay ReplayCache
}

// NewAssertionVerifier validates cfg and returns an AssertionVerifier. It
// is built on the same Verifier as access tokens (strict compact JWS,
// pinned algorithms, forbidden and crit headers, duplicate-member and
// case-folded-name checks, key policy, time claims), with typ
// AssertionType, the exact audience and the verified-token cache off:
// every assertion is seen once, so caching could only serve a replay.
func NewAssertionVerifier(cfg AssertionConfig) (*AssertionVerifier, error) {
	if cfg.Replay == nil {
		return nil, errors.New("jwtauth: AssertionConfig.Replay is required (assertions are single-use)")
	}
	aud, err := NormalizeOrigin(cfg.Audience)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: AssertionConfig.Audience: %w", err)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("jwtauth: AssertionConfig.Issuer is required")
	}
	for _, a := range cfg.Algorithms {
		// The gateway signs with the issuer's published asymmetric keys; a
		// shared-secret algorithm would let anyone holding the secret (every
		// upstream) mint assertions for every other (RFC 8725 §3.1).
		if strings.HasPrefix(a, "HS") {
			return nil, fmt.Errorf("jwtauth: assertion algorithm %q: only asymmetric algorithms are allowed", a)
		}
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultAssertionLeeway
	}
	v, err := New(Config{
		Issuer: cfg.Issuer, Keys: cfg.Keys, Algorithms: cfg.Algorithms,
		Audiences: []string{aud}, Type: AssertionType, Leeway: cfg.Leeway,
		MaxTokenSize:   MaxAssertionSize,
		RequiredClaims: []string{"exp", "iat", "iss", "aud", "jti"},
		CacheSize:      -1, Clock: cfg.Clock, Observer: cfg.Observer,
	})
	if err != nil {
		return nil, err
	}
	return &AssertionVerifier{v: v, aud: aud, replay: cfg.Replay}, nil
}

// Audience returns the normalized origin assertions must be minted for.
func (av *AssertionVerifier) Audience() string { return av.aud }

// VerifyAssertion checks an assertion and consumes it: signature and
// algorithm against the issuer's keys, typ AssertionType, iss exact, aud
// exactly this service's origin (one value), exp and iat present with
// exp − iat at most MaxAssertionLifetime, jti, route and rid present and
// non-empty, sub and client_id non-empty when present, and finally the
// jti recorded in the replay cache, so a second presentation fails with
// ReasonAssertionReplay. Errors are *Error with a Reason.
func (av *AssertionVerifier) VerifyAssertion(ctx context.Context, token string) (*Assertion, error) {
	a, err := av.verify(ctx, token)
	if err != nil {
		av.v.obs.Rejected(av.v.cfg.Issuer, ReasonOf(err))
		return nil, err
	}
	av.v.obs.Verified(av.v.cfg.Issuer, false)
	return a, nil
}

func (av *AssertionVerifier) verify(ctx context.Context, token string) (*Assertion, error) {
	now := av.v.now()
	c, err := av.v.verifyFull(ctx, token, now)
	if err != nil {
		return nil, err
	}
	a, err := assertionOf(c)
	if err != nil {
		return nil, err
	}
	// The replay check comes last, so a token that fails any other check
	// does not occupy the cache. The id is remembered past the last
	// instant it could be accepted (exp + leeway), and namespaced: "+" is
	// outside base64url, so no DPoP key (jkt|jti) can collide with it.
	until := a.ExpiresAt.Add(av.v.cfg.Leeway + time.Second)
	replayed, err := av.replay.Seen(ctx, AssertionType+"|"+a.ID, until)
	switch {
	case err != nil:
		return nil, &Error{Reason: ReasonReplayCacheError, Detail: "replay cache unavailable", Err: err}
	case replayed:
		return nil, reject(ReasonAssertionReplay, "assertion jti already used")
	}
	return a, nil
}

// assertionOnlyNames are the claims decoded here beyond claimNames; their
// case-folded spellings ("ROUTE") are refused like those of iss or sub.
var assertionOnlyNames = nameList("route", "rid")

// assertionClaims are the claims only an assertion has, and the presence
// of sub and client_id (Claims holds only their values).
type assertionClaims struct {
	Route    *string `json:"route"`
	RID      *string `json:"rid"`
	Sub      *string `json:"sub"`
	ClientID *string `json:"client_id"`
}

// assertionOf applies the assertion-specific claim rules to claims the
// Verifier already accepted.
func assertionOf(c *Claims) (*Assertion, error) {
	if len(c.Audience) != 1 {
		// One upstream, one audience: a multi-valued aud would let one
		// token be replayed at every service it names.
		return nil, reject(ReasonAudience, "aud must be exactly one origin, got %d values", len(c.Audience))
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt); life <= 0 || life > MaxAssertionLifetime {
		return nil, reject(ReasonBadClaim, "exp - iat is %s, want (0, %s]", life, MaxAssertionLifetime)
	}
	if c.ID == "" || len(c.ID) > 256 {
		return nil, reject(ReasonBadClaim, "jti must be 1-256 bytes")
	}
	if c.JKT != "" {
		return nil, reject(ReasonBadClaim, "an assertion is not bound to a DPoP key (cnf)")
	}
	if err := checkJSONObjectNames(c.Raw, assertionOnlyNames); err != nil {
		return nil, reject(ReasonMalformed, "payload: %v", err)
	}
	var ac assertionClaims
	if err := json.Unmarshal(c.Raw, &ac); err != nil {
		return nil, reject(ReasonBadClaim, "route or rid has the wrong JSON type")
	}
	switch {
	case ac.Route == nil || *ac.Route == "" || ac.RID == nil || *ac.RID == "":
		return nil, reject(ReasonMissingClaim, "route and rid are required")
	case ac.Sub != nil && *ac.Sub == "":
		return nil, reject(ReasonBadClaim, "sub is present but empty (no user is spelled by omitting sub)")
	case ac.ClientID != nil && *ac.ClientID == "":
		return nil, reject(ReasonBadClaim, "client_id is present but empty")
	}
	return &Assertion{
		Issuer: c.Issuer, Audience: c.Audience[0], Subject: c.Subject, ClientID: c.ClientID,
		Scope: c.Scope, Route: *ac.Route, RequestID: *ac.RID, ID: c.ID,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, scopes: strings.Fields(c.Scope),
	}, nil
}
