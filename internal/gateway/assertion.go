package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/jwtauth"
)

// Signer gives the key that signs now. keys.Manager implements it: the
// assertion is signed with the same key ring as access tokens, so a
// service verifies it against the JWKS Rampart publishes at
// /.well-known/jwks.json, and key rotation and revocation cover it too.
type Signer interface {
	Signer() (keys.ActiveKey, error)
}

var _ Signer = (*keys.Manager)(nil)

// DefaultAssertionTTL is the lifetime of an assertion when
// MinterOptions.TTL is zero: long enough for one hop to a slow upstream,
// short enough that a leaked one is useless almost at once.
const DefaultAssertionTTL = 30 * time.Second

// ErrAssertionTooLarge is returned by Mint when the serialized assertion
// would exceed jwtauth.MaxAssertionSize: it is refused rather than
// truncated, since a truncated identity is a different identity.
var ErrAssertionTooLarge = errors.New("gateway: assertion exceeds 4 KiB")

// MinterOptions configures an AssertionMinter.
type MinterOptions struct {
	// Signer supplies the active signing key (keys.Manager). Required.
	Signer Signer
	// Issuer is Rampart's issuer URL, the assertion's iss. Required.
	Issuer string
	// TTL is exp − iat in whole seconds: default 30 s, at most
	// jwtauth.MaxAssertionLifetime (60 s); a longer one is refused.
	TTL time.Duration
	// Clock (default time.Now) and Rand (default crypto/rand.Reader, for
	// the jti and the signature) are injected for tests.
	Clock func() time.Time
	Rand  io.Reader
}

// AssertionMinter mints the X-Rampart-Assertion JWT for each request the
// gateway forwards. It is safe for concurrent use.
type AssertionMinter struct {
	signer Signer
	issuer string
	ttl    int64 // seconds
	now    func() time.Time
	rand   io.Reader
}

// NewAssertionMinter validates o and returns a minter.
func NewAssertionMinter(o MinterOptions) (*AssertionMinter, error) {
	if o.Signer == nil {
		return nil, errors.New("gateway: MinterOptions.Signer is required")
	}
	if o.Issuer == "" {
		return nil, errors.New("gateway: MinterOptions.Issuer is required")
	}
	if o.TTL == 0 {
		o.TTL = DefaultAssertionTTL
	}
	if o.TTL < time.Second || o.TTL > jwtauth.MaxAssertionLifetime || o.TTL%time.Second != 0 {
		return nil, fmt.Errorf("gateway: assertion TTL %s: want whole seconds between 1s and %s", o.TTL, jwtauth.MaxAssertionLifetime)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &AssertionMinter{signer: o.Signer, issuer: o.Issuer, ttl: int64(o.TTL / time.Second), now: o.Clock, rand: o.Rand}, nil
}

// Assertion is what the gateway asserts about one forwarded request.
type Assertion struct {
	// Subject is the authenticated user (or client); "" on auth: none
	// routes, and then sub is omitted (see jwtauth.Assertion.Subject).
	Subject string
	// ClientID is the OAuth client of the token; "" on auth: none routes
	// (client_id omitted).
	ClientID string
	// Scopes granted to the token; each an RFC 6749 §3.3 scope-token.
	Scopes []string
	// Route is the matched route's name ([a-z0-9-]).
	Route string
	// RequestID is the gateway's request id (1–128 visible ASCII bytes).
	RequestID string
	// Audience is the upstream's origin (scheme://host[:port]); it is
	// normalized with jwtauth.NormalizeOrigin, the verifier's own rule.
	Audience string
}

// assertionClaims are exactly the claims of an assertion (issue 12:
// "claims filtered to these"); nothing from the inbound token is copied
// wholesale.
type assertionClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud"`
	ClientID  string `json:"client_id,omitempty"`
	Scope     string `json:"scope,omitempty"`
	Route     string `json:"route"`
	RequestID string `json:"rid"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
	ID        string `json:"jti"`
}

// Mint returns the signed assertion for a: a compact JWS with header
// {alg, kid, typ: rampart-assertion+jwt} from the active key and claims
// iss, sub (omitted when empty), aud, client_id (omitted when empty),
// scope (omitted when there are none), route, rid, iat, exp = iat + TTL
// and a 128-bit random jti. Invalid input is an error, never repaired:
// a bad origin, route or request id, a scope that is not a scope-token, a
// subject or client id that is not valid UTF-8 (encoding/json would
// silently replace the bytes, turning one identity into another), or a
// result over jwtauth.MaxAssertionSize (ErrAssertionTooLarge).
func (m *AssertionMinter) Mint(ctx context.Context, a Assertion) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c, err := m.claims(a)
	if err != nil {
		return "", err
	}
	k, err := m.signer.Signer()
	if err != nil {
		return "", fmt.Errorf("gateway: assertion: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("gateway: assertion: %w", err)
	}
	return m.sign(k, payload)
}

// claims validates a and builds the claim set at the current time.
func (m *AssertionMinter) claims(a Assertion) (*assertionClaims, error) {
	aud, err := jwtauth.NormalizeOrigin(a.Audience)
	if err != nil {
		return nil, fmt.Errorf("gateway: assertion audience: %w", err)
	}
	if !validRouteName(a.Route) {
		return nil, fmt.Errorf("gateway: assertion route %q: want [a-z0-9-]+", a.Route)
	}
	if !visibleASCII(a.RequestID, 128) {
		return nil, errors.New("gateway: assertion request id: want 1-128 visible ASCII bytes")
	}
	if !utf8.ValidString(a.Subject) || !utf8.ValidString(a.ClientID) {
		return nil, errors.New("gateway: assertion subject or client id is not valid UTF-8")
	}
	for _, s := range a.Scopes {
		// A scope holding a space would become two scopes at the verifier
		// (scope injection); RFC 6749 §3.3 scope-token excludes it.
		if !scopeToken(s) {
			return nil, fmt.Errorf("gateway: assertion scope %q is not an RFC 6749 scope-token", s)
		}
	}
	var id [16]byte
	if _, err := io.ReadFull(m.rand, id[:]); err != nil {
		return nil, fmt.Errorf("gateway: assertion jti: %w", err)
	}
	iat := m.now().Unix()
	return &assertionClaims{
		Issuer: m.issuer, Subject: a.Subject, Audience: aud, ClientID: a.ClientID,
		Scope: strings.Join(a.Scopes, " "), Route: a.Route, RequestID: a.RequestID,
		IssuedAt: iat, Expiry: iat + m.ttl, ID: base64.RawURLEncoding.EncodeToString(id[:]),
	}, nil
}

// validRouteName reports whether s is a route name as the configuration
// allows it: one or more of [a-z0-9-].
func validRouteName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
