package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DPoPConfig configures proof-of-possession checks (RFC 9449).
type DPoPConfig struct {
	// Replay remembers proof ids; required for VerifyDPoP (RFC 9449 §11.1).
	Replay ReplayCache
	// Algorithms allowed for proofs (default DefaultAlgorithms; asymmetric
	// only — an HMAC proof proves nothing).
	Algorithms []string
	// MaxAge is how old a proof's iat may be (default 60 s); proofs from
	// the future are allowed only within the Verifier's leeway.
	MaxAge time.Duration
	// Nonces, when set, requires a server-provided nonce (RFC 9449 §8).
	Nonces NonceChecker
}

// NonceChecker issues and checks DPoP server nonces.
type NonceChecker interface {
	// Current returns the nonce to send in DPoP-Nonce.
	Current() string
	// Valid reports whether a proof's nonce is acceptable now.
	Valid(nonce string) bool
}

// maxProofSize caps a DPoP proof (a header with an RSA-4096 JWK fits).
const maxProofSize = 8 << 10

type dpopState struct {
	algs   map[string]bool
	maxAge time.Duration
}

func (v *Verifier) initDPoP() error {
	d := v.cfg.DPoP
	algs := d.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	st := &dpopState{algs: map[string]bool{}, maxAge: d.MaxAge}
	for _, a := range algs {
		if strings.HasPrefix(a, "HS") || strings.EqualFold(a, "none") || a == "" {
			return errors.New("jwtauth: DPoP proofs must use an asymmetric algorithm")
		}
		st.algs[a] = true
	}
	if st.maxAge <= 0 {
		st.maxAge = 60 * time.Second
	}
	v.dpop = st
	return nil
}

// DPoPEnabled reports whether VerifyDPoP can be used (a replay cache is set).
func (v *Verifier) DPoPEnabled() bool { return v.cfg.DPoP.Replay != nil }

// DPoPAlgorithms lists the proof algorithms (for WWW-Authenticate algs).
func (v *Verifier) DPoPAlgorithms() []string {
	out := make([]string, 0, len(v.dpop.algs))
	for _, a := range DefaultAlgorithms {
		if v.dpop.algs[a] {
			out = append(out, a)
		}
	}
	for a := range v.dpop.algs {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// VerifyDPoP checks a DPoP-bound access token and its proof for a request
// (RFC 9449 §4.3 and §7.1): method is the request method, htu the request's
// target URI as this server is configured to be reached (never derived from
// X-Forwarded-* headers). The token must be bound (cnf.jkt) to the proof's
// key; the proof's jti is recorded last, so invalid proofs do not fill the
// replay cache.
func (v *Verifier) VerifyDPoP(ctx context.Context, token, proof, method, htu string) (*Claims, error) {
	if v.cfg.DPoP.Replay == nil {
		return v.done(nil, reject(ReasonDPoPInvalid, "DPoP is not configured (no replay cache)"))
	}
	c, err := v.verify(ctx, token)
	if err != nil {
		return v.done(nil, err)
	}
	if c.JKT == "" {
		// RFC 9449 §7.1: the DPoP scheme requires a DPoP-bound token.
		return v.done(nil, reject(ReasonDPoPMismatch, "token is not DPoP-bound (no cnf.jkt)"))
	}
	jkt, jti, until, err := v.checkProof(proof, method, htu, token)
	if err != nil {
		return v.done(nil, err)
	}
	if jkt != c.JKT {
		return v.done(nil, reject(ReasonDPoPMismatch, "proof key does not match cnf.jkt"))
	}
	replayed, err := v.cfg.DPoP.Replay.Seen(ctx, jkt+"|"+jti, until)
	switch {
	case err != nil:
		return v.done(nil, &Error{Reason: ReasonDPoPInvalid, Detail: "replay cache unavailable", Err: err})
	case replayed:
		return v.done(nil, reject(ReasonDPoPReplay, "proof jti already used"))
	}
	return v.done(c, nil)
}

// proofClaims are the DPoP proof claims (RFC 9449 §4.2).
type proofClaims struct {
	Jti   *string         `json:"jti"`
	Htm   *string         `json:"htm"`
	Htu   *string         `json:"htu"`
	Iat   json.RawMessage `json:"iat"`
	Ath   *string         `json:"ath"`
	Nonce *string         `json:"nonce"`
}

// checkProof verifies everything about a proof except replay; it returns
// the key thumbprint, the jti and how long the jti must be remembered.
func (v *Verifier) checkProof(proof, method, htu, token string) (string, string, time.Time, error) {
	var zero time.Time
	p, err := parseCompact(proof, maxProofSize, true)
	if err != nil {
		return "", "", zero, &Error{Reason: ReasonDPoPInvalid, Detail: "proof: " + err.Error(), Err: err}
	}
	h := &p.header
	if normalizeType(h.Typ) != "dpop+jwt" {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof typ %q is not dpop+jwt", h.Typ)
	}
	if !v.dpop.algs[h.Alg] {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof alg %q is not allowed", h.Alg)
	}
	if h.JWK == nil {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof has no jwk header")
	}
	var jwk jose.JSONWebKey
	if err := checkJSONObjectNames(h.JWK, jwkNames); err != nil {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof jwk: %v", err)
	}
	if err := json.Unmarshal(h.JWK, &jwk); err != nil {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof jwk is not a valid JWK")
	}
	// KeyFromJWK refuses private material ("d"), oct keys and weak keys,
	// and requires the JWK's alg (if any) to equal the header's.
	key, err := KeyFromJWK(jwk, h.Alg)
	if err != nil {
		return "", "", zero, &Error{Reason: ReasonDPoPInvalid, Detail: "proof jwk: " + detailOf(err), Err: err}
	}
	if !verifySignature(key, p.signingInput, p.signature) {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof signature does not verify")
	}
	var pc proofClaims
	if err := json.Unmarshal(p.payload, &pc); err != nil {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof claims have wrong types")
	}
	if pc.Jti == nil || *pc.Jti == "" || len(*pc.Jti) > 256 || pc.Htm == nil || pc.Htu == nil || pc.Iat == nil {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof lacks jti, htm, htu or iat")
	}
	if *pc.Htm != method {
		return "", "", zero, reject(ReasonDPoPMismatch, "htm %q does not match the method", *pc.Htm)
	}
	want, ok := normalizeHTU(htu)
	got, ok2 := normalizeHTU(*pc.Htu)
	if !ok || !ok2 || got != want {
		return "", "", zero, reject(ReasonDPoPMismatch, "htu does not match the request URI")
	}
	iat, err := numericDate("iat", pc.Iat)
	if err != nil {
		return "", "", zero, reject(ReasonDPoPInvalid, "proof iat is not a valid date")
	}
	now, lw := v.now(), v.cfg.Leeway
	if iat.After(now.Add(lw)) || iat.Before(now.Add(-v.dpop.maxAge-lw)) {
		return "", "", zero, reject(ReasonDPoPStale, "proof iat is outside the accepted window")
	}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		if pc.Ath == nil || *pc.Ath != b64.EncodeToString(sum[:]) {
			return "", "", zero, reject(ReasonDPoPMismatch, "ath does not match the access token")
		}
	}
	if n := v.cfg.DPoP.Nonces; n != nil && (pc.Nonce == nil || !n.Valid(*pc.Nonce)) {
		return "", "", zero, reject(ReasonDPoPNonce, "a valid server nonce is required")
	}
	jkt, err := Thumbprint(key.public)
	if err != nil {
		return "", "", zero, &Error{Reason: ReasonDPoPInvalid, Detail: "thumbprint", Err: err}
	}
	return jkt, *pc.Jti, iat.Add(v.dpop.maxAge + 2*lw), nil
}

// normalizeHTU normalizes a URI for htu comparison (RFC 9449 §4.3 step 9,
// RFC 3986 §6.2.2-6.2.3): scheme and host lowercased, default port
// removed, empty path as "/", query and fragment ignored.
func normalizeHTU(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = host + ":" + port
	}
	if strings.Contains(u.Hostname(), ":") { // IPv6 literal
		host = "[" + strings.ToLower(u.Hostname()) + "]"
		if port != "" {
			host += ":" + port
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return strings.ToLower(u.Scheme) + "://" + host + path, true
}
