package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/jwtauth"
)

// ClientAssertionTypeJWT is the client_assertion_type of private_key_jwt
// (RFC 7523 §2.2).
const ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionReplayPrefix prefixes the Redis keys of seen client assertion
// ids (jwtauth.RedisReplayCache), apart from DPoP's.
const AssertionReplayPrefix = "rampart:client-assertion:"

// Limits of a client assertion.
const (
	// maxAssertionAhead: exp may be at most this far ahead of now. A
	// long-lived assertion is a bearer credential for its whole life; 5
	// minutes is the FAPI 2.0 / RFC 7523 §3 practice and bounds the jti
	// table.
	maxAssertionAhead = 5 * time.Minute
	// maxAssertionBytes bounds the compact JWS (jwtauth's default cap).
	maxAssertionBytes = jwtauth.DefaultMaxTokenSize
	// maxClientVerifiers bounds the per-client verifier (and JWKS cache)
	// map: client ids come from the store, so their number is bounded by
	// the operator, but a bound keeps memory flat whatever happens.
	maxClientVerifiers = 1024
)

// assertionAlgs are the algorithms a client assertion may use: asymmetric
// only. HS256 with a client secret (client_secret_jwt) is not offered:
// the secret would then have to be stored recoverably, and a public key
// used as an HMAC secret is the classic key-confusion attack (RFC 8725
// §2.1, §3.1). "none" is never allowed (jwtauth refuses it outright).
var assertionAlgs = []string{jwtauth.ES256, jwtauth.ES384, jwtauth.ES512, jwtauth.EdDSA,
	jwtauth.PS256, jwtauth.PS384, jwtauth.PS512, jwtauth.RS256, jwtauth.RS384, jwtauth.RS512}

// Reasons a client assertion failed (audited; the client gets
// invalid_client).
const (
	reasonAssertionMalformed = "assertion_malformed"
	reasonAssertionMethod    = "auth_method_mismatch"
	reasonAssertionSubject   = "assertion_sub_not_iss"
	reasonAssertionClientID  = "assertion_client_id_mismatch"
	reasonAssertionAudience  = "assertion_audience"
	reasonAssertionLifetime  = "assertion_exp_too_far"
	reasonAssertionReplay    = "assertion_jti_replayed"
	reasonAssertionKeys      = "assertion_keys_unavailable"
)

// clientVerifiers holds one jwtauth.Verifier per private_key_jwt client
// (and through it one JWKS cache per jwks_uri), rebuilt when the client's
// registered keys change.
type clientVerifiers struct {
	mu sync.Mutex
	m  map[string]*clientVerifier
}

type clientVerifier struct {
	fingerprint string // what the verifier was built from
	v           *jwtauth.Verifier
}

// assertionVerifier returns the verifier of c's assertions.
func (s *Server) assertionVerifier(c *Client) (*jwtauth.Verifier, error) {
	fp := "uri:" + c.JWKSURI
	if len(c.JWKS) > 0 {
		sum := sha256.Sum256(c.JWKS)
		fp = "jwks:" + hex.EncodeToString(sum[:])
	}
	fp += "|profile:" + c.Profile // fapi: the profile narrows the algorithms
	cv := &s.assertionKeys
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if e, ok := cv.m[c.ID]; ok && e.fingerprint == fp {
		return e.v, nil
	}
	var keys jwtauth.KeySource
	if len(c.JWKS) > 0 {
		ks, err := config.CheckJWKS(c.JWKS)
		if err != nil {
			return nil, err
		}
		st, err := jwtauth.NewStaticKeys(ks...)
		if err != nil {
			return nil, err
		}
		keys = st
	} else {
		j, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: c.JWKSURI, HTTPClient: s.opts.JWKSClient, Clock: s.now, Logger: s.log})
		if err != nil {
			return nil, err
		}
		keys = j
	}
	v, err := jwtauth.New(jwtauth.Config{
		Issuer:     c.ID, // RFC 7523 §3 item 1: iss is the client_id
		Keys:       keys,
		Algorithms: c.assertionAlgorithms(),
		// aud is checked below, strictly (checkAssertionAudience).
		SkipAudience: true,
		// RFC 7523 defines no typ; clients send JWT or nothing.
		SkipType:       true,
		RequiredClaims: []string{"exp", "iss", "sub", "aud", "jti"},
		// No verified-token cache: every assertion is single-use anyway.
		CacheSize: -1,
		Clock:     s.now,
	})
	if err != nil {
		return nil, err
	}
	if cv.m == nil {
		cv.m = map[string]*clientVerifier{}
	}
	if len(cv.m) >= maxClientVerifiers {
		for k := range cv.m { // drop any one entry; it is rebuilt on use
			delete(cv.m, k)
			break
		}
	}
	cv.m[c.ID] = &clientVerifier{fingerprint: fp, v: v}
	return v, nil
}

// authenticateAssertion is private_key_jwt (RFC 7523 §2.2, §3; OIDC Core
// §9): the client proves possession of a key in its registered JWK Set
// by a short-lived, single-use JWT.
func (s *Server) authenticateAssertion(ctx context.Context, r *http.Request, form url.Values, a authAttempt) (*Client, authAttempt, *Error) {
	if a.basic || form.Has("client_secret") {
		return nil, a, oerr(ErrInvalidRequest, "use one client authentication method")
	}
	if len(form["client_assertion"]) != 1 || len(form["client_assertion_type"]) != 1 || len(form["client_id"]) > 1 {
		return nil, a, oerr(ErrInvalidRequest, "client_assertion and client_assertion_type are required once each")
	}
	if form.Get("client_assertion_type") != ClientAssertionTypeJWT {
		return nil, a, oerr(ErrInvalidRequest, "client_assertion_type must be %s", ClientAssertionTypeJWT)
	}
	fail := func(reason string) (*Client, authAttempt, *Error) {
		a.reason = reason
		return nil, a, badClient("client authentication failed")
	}
	assertion := form.Get("client_assertion")
	iss, ok := assertionIssuer(assertion)
	a.id = iss
	if !ok {
		return fail(reasonAssertionMalformed)
	}
	// RFC 7521 §4.2: client_id, when sent, names the same client.
	if id := form.Get("client_id"); id != "" && id != iss {
		a.id = id
		return fail(reasonAssertionClientID)
	}
	c, err := s.opts.Clients.Get(ctx, iss)
	if errors.Is(err, store.ErrNotFound) {
		return fail(reasonInvalidClient)
	}
	if err != nil {
		return nil, a, serverError(err)
	}
	if !c.usesPrivateKeyJWT() {
		// A client registered for a secret cannot switch to assertions
		// (nor the reverse, Registry.Authenticate): the method is pinned
		// per client (RFC 7591 §2 token_endpoint_auth_method).
		return fail(reasonAssertionMethod)
	}
	v, err := s.assertionVerifier(c)
	if err != nil {
		s.log.ErrorContext(ctx, "client assertion keys", "client", c.ID, "err", err)
		return fail(reasonAssertionKeys)
	}
	claims, err := v.Verify(ctx, assertion)
	if err != nil {
		if jwtauth.ReasonOf(err) == jwtauth.ReasonKeySourceError {
			// The client's jwks_uri cannot be fetched (and no fresh or
			// stale set is cached): fail closed, but as 503, not as a
			// failed authentication, so an outage of the client's key
			// server does not spend its client_auth_failed budget.
			s.log.WarnContext(ctx, "client assertion keys unavailable", "client", c.ID, "err", err)
			a.reason = reasonAssertionKeys
			return nil, a, &Error{Code: ErrTemporarilyUnavailable, Description: "try again shortly", Status: http.StatusServiceUnavailable, Cause: err}
		}
		return fail("assertion_" + string(jwtauth.ReasonOf(err)))
	}
	if reason := s.checkAssertionClaims(claims, c.ID); reason != "" {
		return fail(reason)
	}
	// RFC 7523 §3 item 7: the jti is single-use. It is remembered until
	// exp (plus the verifier's leeway, while the assertion could still be
	// accepted) in a store every instance shares: the database
	// (conditional insert) or Redis (SET NX), never a process-local map.
	until := claims.ExpiresAt.Add(jwtauth.DefaultLeeway)
	seen, err := s.assertionReplay.Seen(ctx, c.ID+"\x00"+claims.ID, until)
	if err != nil {
		return nil, a, serverError(err)
	}
	if seen {
		return fail(reasonAssertionReplay)
	}
	return c, a, nil
}

// checkAssertionClaims checks what jwtauth does not: sub, aud and the
// lifetime. It returns the failure reason, or "".
func (s *Server) checkAssertionClaims(c *jwtauth.Claims, clientID string) string {
	// RFC 7523 §3 item 2: sub is the client_id (iss was pinned by the
	// verifier).
	if c.Subject != clientID {
		return reasonAssertionSubject
	}
	// The audience must be exactly the issuer identifier: a string, or an
	// array of exactly that one element. Accepting the token endpoint URL
	// (RFC 7523 §3 item 3 allows it) or any array containing us made
	// assertions minted for one server replayable at another: the
	// January 2025 audience-injection disclosure (CVE-2025-27370 and
	// CVE-2025-27371; OIDC Core errata and FAPI 2.0 now require the
	// issuer identifier as the sole value).
	if len(c.Audience) != 1 || c.Audience[0] != s.opts.Issuer {
		return reasonAssertionAudience
	}
	// exp is at most 5 minutes ahead: a longer-lived assertion is a
	// reusable credential for anyone who sees it before its first use.
	now := s.now()
	if c.ExpiresAt.After(now.Add(maxAssertionAhead)) {
		return reasonAssertionLifetime
	}
	// iat, when present, must not predate exp by more than the same
	// window (jwtauth already refuses iat and nbf in the future).
	if !c.IssuedAt.IsZero() && c.ExpiresAt.Sub(c.IssuedAt) > maxAssertionAhead+jwtauth.DefaultLeeway {
		return reasonAssertionLifetime
	}
	return ""
}

// assertionIssuer reads the iss of an unverified assertion, to find the
// client whose keys verify it. Nothing else is trusted before the
// signature is checked.
func assertionIssuer(jws string) (string, bool) {
	if len(jws) > maxAssertionBytes || strings.Count(jws, ".") != 2 {
		return "", false
	}
	parts := strings.SplitN(jws, ".", 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var p struct {
		Iss string `json:"iss"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&p); err != nil || !config.ValidClientID(p.Iss) {
		return "", false
	}
	return p.Iss, true
}

// assertionIDStore remembers client assertion ids (the database's
// conditional insert).
type assertionIDStore interface {
	// UseAssertionID records hash until expires and reports whether it
	// was new; an earlier record still live at now makes it false. Of
	// concurrent calls for one hash on any number of instances at most
	// one reports true.
	UseAssertionID(ctx context.Context, hash []byte, expires, now time.Time) (bool, error)
}

// storeReplay is a jwtauth.ReplayCache over the database.
type storeReplay struct {
	st  assertionIDStore
	now func() time.Time
}

var _ jwtauth.ReplayCache = storeReplay{}

func (r storeReplay) Seen(ctx context.Context, id string, until time.Time) (bool, error) {
	h := sha256.Sum256([]byte(id))
	fresh, err := r.st.UseAssertionID(ctx, h[:], until, r.now())
	return !fresh, err
}
