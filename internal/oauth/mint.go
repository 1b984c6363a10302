package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/jwtauth"
)

// Signer gives the key that signs now (keys.Manager).
type Signer interface {
	Signer() (keys.ActiveKey, error)
}

// PublicKeys gives the published verification keys (keys.Manager).
type PublicKeys interface {
	// KeySetVersion changes whenever the published set may have changed
	// (a key published, retired, removed or revoked, here or by another
	// instance or the CLI); it is cheap enough to call per token.
	KeySetVersion() uint64
	// PublicKeySet returns the published keys and the version they are.
	PublicKeySet() (uint64, jose.JSONWebKeySet)
}

// accessClaims are the RFC 9068 §2.2 claims of an access token.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	NotBef   int64    `json:"nbf,omitempty"`
	ID       string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	// Cnf binds the token to a DPoP key (RFC 9449 §6.1); nil for bearer.
	Cnf *confirmation `json:"cnf,omitempty"`
	// AMR and ACR: how the user signed in (RFC 8176, RFC 9068 §2.2.1).
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
}

// idClaims are the OIDC Core §2 claims of an ID token.
type idClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	Expiry    int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	AuthTime  int64  `json:"auth_time"`
	Nonce     string `json:"nonce,omitempty"`
	AtHash    string `json:"at_hash,omitempty"`
	AZP       string `json:"azp"`
	Username  string `json:"preferred_username,omitempty"`
	SessionID string `json:"sid,omitempty"`
	// AMR and ACR: how the user signed in (OIDC Core §2, RFC 8176).
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
}

// sign serializes claims as a compact JWS signed with the active key
// (keys.SignJWS, the one signer of Rampart's own tokens).
func sign(k keys.ActiveKey, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	tok, err := keys.SignJWS(rand.Reader, k, typ, payload)
	if err != nil {
		return "", fmt.Errorf("oauth: %w", err)
	}
	return tok, nil
}

// tokenHashHalf is the OIDC Core §3.1.3.6 at_hash: the left half of the
// hash of the ASCII token, with the hash of the signing algorithm (SHA-256
// for ES256/RS256/PS256; SHA-512 for EdDSA with Ed25519, per the OpenID
// Foundation's EdDSA errata).
func tokenHashHalf(alg, token string) string {
	var sum []byte
	if alg == string(jose.EdDSA) {
		h := sha512.Sum512([]byte(token))
		sum = h[:]
	} else {
		h := sha256.Sum256([]byte(token))
		sum = h[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// randomToken returns n random bytes in base64url.
func randomToken(rnd io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("oauth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashToken(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// keySource serves the key manager's published keys to jwtauth, so the
// server verifies its own tokens (revocation, introspection, userinfo) with
// the same checks as every resource server.
//
// It trusts exactly the manager's current published set: what it derives
// from the set (parsed jwtauth keys by kid) is labelled with the set's
// version and rebuilt as soon as the version changes, so a key the
// schedule removed or an operator revoked stops verifying at this
// instance's next key ring reload, without a restart (a kid-to-key cache
// that never rechecks the set would keep trusting it: RFC 8725 §3.2 wants
// the verifier to use only currently valid keys). Per token this is two
// atomic loads and a map lookup, no database query.
type keySource struct {
	keys PublicKeys
	mu   sync.Mutex // one rebuild at a time
	snap atomic.Pointer[keySnapshot]
}

var _ jwtauth.KeySource = (*keySource)(nil)

// NewKeySource returns the key source the server verifies its own tokens
// with, for the other verifiers of the process (the gateway's `issuer:
// self` routes): the same keys, the same rebuild on every key-set change.
func NewKeySource(keys PublicKeys) jwtauth.KeySource { return &keySource{keys: keys} }

// keySnapshot is the parsed key set of one KeySetVersion; immutable.
type keySnapshot struct {
	version uint64
	keys    map[string]*jwtauth.Key
	errs    map[string]error // kids whose JWK could not be used
}

func (s *keySource) Key(_ context.Context, kid string) (*jwtauth.Key, error) {
	snap := s.snap.Load()
	if snap == nil || snap.version != s.keys.KeySetVersion() {
		snap = s.rebuild()
	}
	if k, ok := snap.keys[kid]; ok {
		return k, nil
	}
	if err, ok := snap.errs[kid]; ok {
		return nil, err
	}
	return nil, jwtauth.ErrUnknownKey
}

// rebuild parses the current set, unless a concurrent caller just did.
func (s *keySource) rebuild() *keySnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap := s.snap.Load(); snap != nil && snap.version == s.keys.KeySetVersion() {
		return snap
	}
	ver, set := s.keys.PublicKeySet()
	snap := &keySnapshot{version: ver, keys: make(map[string]*jwtauth.Key, len(set.Keys))}
	for _, jwk := range set.Keys {
		if jwk.KeyID == "" {
			continue
		}
		k, err := jwtauth.KeyFromJWK(jwk, jwk.Algorithm)
		if err != nil {
			if snap.errs == nil {
				snap.errs = map[string]error{}
			}
			snap.errs[jwk.KeyID] = err
			continue
		}
		snap.keys[jwk.KeyID] = k
	}
	s.snap.Store(snap)
	return snap
}

// denyChecker reads the store's deny list of revoked access-token ids.
type denyChecker interface {
	// IsDenied reports whether jti is listed and its entry not past at now.
	IsDenied(ctx context.Context, jti string, now time.Time) (bool, error)
}

// denyList adapts the store's jti deny list for jwtauth.
type denyList struct {
	store denyChecker
	now   func() time.Time
}

var _ jwtauth.DenyList = denyList{}

// NewStoreDenyList returns the deny list revocation writes to in the
// store (every revoked access token's jti until it expires), for verifiers
// outside the server; with a shared database it is fleet-wide. A fleet
// with Redis reads jwtauth.NewRedisDenyList(rc, DenyListPrefix) instead,
// which revocation writes to as well.
func NewStoreDenyList(store interface {
	IsDenied(ctx context.Context, jti string, now time.Time) (bool, error)
}, now func() time.Time) jwtauth.DenyList {
	if now == nil {
		now = time.Now
	}
	return denyList{store: store, now: now}
}

func (d denyList) IsRevoked(ctx context.Context, jti string) (bool, error) {
	return d.store.IsDenied(ctx, jti, d.now())
}

// scopeString joins scopes for the token's scope claim.
func scopeString(s []string) string { return strings.Join(s, " ") }

// defaultAudience is the audience of an access token whose client has no
// configured audience: Rampart's userinfo endpoint, the one resource such
// a token is good for (RFC 9068 §3 asks for a default resource indicator
// when none was requested). It is never the client id: an ID token's aud
// is the client id, and an access token with the same aud, iss and sub
// would pass an OIDC library's ID token check (RFC 8725 §3.12, cross-JWT
// confusion). Client ids cannot contain '/', so no client id can equal
// this URL.
func (s *Server) defaultAudience() string { return DefaultAudience(s.opts.Issuer) }

// DefaultAudience is the audience of the access tokens of a client
// registered without one: the issuer's own userinfo endpoint (see
// defaultAudience). The issuer's other own resources (the admin API)
// accept it too.
func DefaultAudience(issuer string) string { return issuer + PathUserinfo }
