package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-auth/rampart/jwtauth"
)

// issuers holds one key source per trusted issuer for the life of the
// process: routes that trust the same issuer share its JWKS cache, and a
// reload that keeps an issuer keeps its keys (no refetch storm on every
// SIGHUP).
type issuers struct {
	ctx context.Context
	d   Deps
	mu  sync.Mutex
	ext map[string]*externalIssuer
}

func newIssuers(ctx context.Context, d Deps) *issuers {
	return &issuers{ctx: ctx, d: d, ext: map[string]*externalIssuer{}}
}

// source returns the key source and exact iss value of a route's issuer:
// "self" is Rampart (its in-process key set), anything else an external
// issuer found by discovery.
func (is *issuers) source(issuer string) (jwtauth.KeySource, string, error) {
	if issuer == selfIssuer {
		return is.d.SelfKeys, is.d.Issuer, nil
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if e, ok := is.ext[issuer]; ok {
		return e, issuer, nil
	}
	e := &externalIssuer{issuer: issuer, d: is.d}
	is.ext[issuer] = e
	go e.run(is.ctx)
	return e, issuer, nil
}

// errDiscoveryPending answers key lookups until the issuer's discovery
// document has been read: tokens of that issuer get 503 (keys
// unavailable), never a guess.
var errDiscoveryPending = errors.New("gateway: the issuer's discovery has not succeeded yet")

// externalIssuer is an issuer found by OpenID Connect Discovery / RFC 8414:
// its jwks_uri is read in the background, then its JWKS is refreshed in the
// background (JWKS.Start), so no request waits on the issuer's network
// (issue 12: keys fetched off the request path). A request for a kid the
// cache lacks may still trigger one refetch, rate-limited by the JWKS
// cool-down, which is how a key rotation at the issuer is picked up.
type externalIssuer struct {
	issuer string
	d      Deps
	jwks   atomic.Pointer[jwtauth.JWKS]
}

func (e *externalIssuer) Key(ctx context.Context, kid string) (*jwtauth.Key, error) {
	j := e.jwks.Load()
	if j == nil {
		return nil, errDiscoveryPending
	}
	return j.Key(ctx, kid)
}

// run discovers the JWKS URL, retrying with capped backoff, then keeps the
// set fresh until ctx ends.
func (e *externalIssuer) run(ctx context.Context) {
	wait := time.Second
	for {
		uri, err := jwtauth.DiscoverJWKSURL(ctx, e.d.HTTPClient, e.issuer)
		if err == nil {
			j, jerr := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: uri, HTTPClient: e.d.HTTPClient, Logger: e.d.Logger})
			if jerr == nil {
				e.jwks.Store(j)
				j.Start(ctx)
				return
			}
			err = jerr
		}
		e.d.Logger.Warn("gateway: issuer discovery failed; its tokens are refused until it succeeds", "issuer", e.issuer, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
