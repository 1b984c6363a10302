package secretsapi

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/jwtauth"
)

// TokenCacheTTL bounds how long a verified Bearer token is served from
// the cache without verifying its signature again. Expiry and the deny
// list are checked on every hit, so a revoked token (RFC 7009) is
// refused at once; what the cache delays by at most this long is only
// the refusal of a token whose signing key was revoked (`rampart key
// revoke`), which also denies the key's tokens by jti when it can.
const TokenCacheTTL = 30 * time.Second

// tokenCacheMax bounds the cache (entries); a full cache is emptied
// rather than grown (cheap, and an attacker's fresh tokens only cost
// verifications, never memory).
const tokenCacheMax = 10000

// tokenCache maps the SHA-256 of a Bearer token (never the token) to the
// claims AuthenticateRequest verified for it (the OWASP Session
// Management advice to key server-side state by a hash of the
// credential: a memory dump does not reveal usable tokens).
type tokenCache struct {
	mu sync.RWMutex
	m  map[[32]byte]cachedClaims
}

type cachedClaims struct {
	claims *jwtauth.Claims
	until  time.Time
}

func (c *tokenCache) get(k [32]byte, now time.Time) (*jwtauth.Claims, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.claims, true
}

func (c *tokenCache) put(k [32]byte, claims *jwtauth.Claims, now time.Time) {
	until := now.Add(TokenCacheTTL)
	if claims.ExpiresAt.Before(until) {
		until = claims.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = make(map[[32]byte]cachedClaims)
	}
	c.m[k] = cachedClaims{claims: claims, until: until}
}

// bearerOnly returns the token of a request that carries exactly one
// `Authorization: Bearer <token>` and no DPoP header: only those are
// cached. A DPoP token needs its proof checked on every request (RFC
// 9449 §7.1), and a DPoP- or certificate-bound token presented as Bearer
// is refused by AuthenticateRequest, so it never enters the cache.
func bearerOnly(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 || len(r.Header.Values("DPoP")) != 0 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// verify returns the verified claims of r's token: from the cache for a
// Bearer token verified less than TokenCacheTTL ago (its expiry and the
// deny list checked again now), else from the Verifier.
func (t *TokenAuth) verify(r *http.Request) (*jwtauth.Claims, error) {
	if t.DenyList == nil {
		// Without the deny list a cached token could outlive its
		// revocation: no cache.
		return t.Verifier.AuthenticateRequest(r)
	}
	now := t.now()
	tok, cacheable := bearerOnly(r)
	var key [32]byte
	if cacheable {
		key = sha256.Sum256([]byte(tok))
		if c, ok := t.cache.get(key, now); ok {
			if err := t.live(r.Context(), c, now); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	c, err := t.Verifier.AuthenticateRequest(r)
	if err != nil {
		return nil, err
	}
	if cacheable {
		t.cache.put(key, c, now)
	}
	return c, nil
}

// live repeats on a cache hit the checks that change with time and
// state: expiry and the deny list (a lookup error refuses: fail closed).
func (t *TokenAuth) live(ctx context.Context, c *jwtauth.Claims, now time.Time) error {
	if !now.Before(c.ExpiresAt) {
		return errInvalidToken
	}
	revoked, err := t.DenyList.IsRevoked(ctx, c.ID)
	if err != nil || revoked {
		return errInvalidToken
	}
	return nil
}

func (t *TokenAuth) now() time.Time {
	if t.Clock != nil {
		return t.Clock()
	}
	return time.Now()
}
