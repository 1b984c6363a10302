package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ProofChecker checks DPoP proofs that come without an access token: the
// proofs an authorization server receives at its token endpoint (RFC 9449
// §5), whose key the tokens it issues are bound to. It runs the same
// checks as VerifyDPoP (one parser, one policy): the proof is a strict
// compact JWS of typ dpop+jwt, its alg is on the allow-list, its jwk is a
// public asymmetric key that verifies the signature, htm and htu match the
// request, iat is inside the window, the server nonce is valid when one is
// required, and its jti was never seen. Safe for concurrent use.
type ProofChecker struct {
	v      *Verifier
	replay ReplayCache
}

// NewProofChecker returns a checker with d's policy. d.Replay is required
// (RFC 9449 §11.1); leeway is how far in the future a proof's iat may be
// (0 means DefaultLeeway, at most MaxLeeway); clock nil means time.Now.
func NewProofChecker(d DPoPConfig, leeway time.Duration, clock func() time.Time) (*ProofChecker, error) {
	if d.Replay == nil {
		return nil, errors.New("jwtauth: a DPoP proof checker needs a replay cache")
	}
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	if leeway < 0 || leeway > MaxLeeway {
		return nil, errors.New("jwtauth: leeway must be between 0 and 60s")
	}
	if clock == nil {
		clock = time.Now
	}
	v := &Verifier{cfg: Config{DPoP: d, Leeway: leeway, Clock: clock}, obs: NopObserver{}, now: clock}
	if err := v.initDPoP(); err != nil {
		return nil, err
	}
	return &ProofChecker{v: v, replay: d.Replay}, nil
}

// Algorithms lists the proof algorithms accepted (for the discovery
// document's dpop_signing_alg_values_supported, RFC 9449 §5.1).
func (p *ProofChecker) Algorithms() []string { return p.v.DPoPAlgorithms() }

// Nonces returns the configured server-nonce source, nil for none.
func (p *ProofChecker) Nonces() NonceChecker { return p.v.cfg.DPoP.Nonces }

// Check verifies proof for a request with method to htu (the URI this
// server is configured to be reached at, never one derived from the
// request's Host or X-Forwarded-* headers) and returns the RFC 7638
// thumbprint of its key. The proof's id is recorded last, so an invalid
// proof does not fill the replay cache; it is keyed on the normalized
// method, URI and jti and kept for the whole window in which the proof's
// iat is accepted (RFC 9449 §11.1), so it cannot be used twice there.
// Errors are rejections (ReasonOf: dpop_invalid, dpop_mismatch,
// dpop_stale, dpop_nonce, dpop_replay), except a replay-cache failure,
// which is a plain error (ReasonOf is ""): the proof is refused either way.
func (p *ProofChecker) Check(ctx context.Context, proof, method, htu string) (string, error) {
	jkt, jti, until, err := p.v.checkProof(proof, method, htu, "")
	if err != nil {
		return "", err
	}
	u, _ := normalizeHTU(htu) // checkProof refused an htu that does not normalize
	replayed, err := p.replay.Seen(ctx, method+" "+u+" "+jti, until)
	switch {
	case err != nil:
		// Not a rejection (ReasonOf is ""): the server's fault, which its
		// caller answers as such, still refusing the proof.
		return "", fmt.Errorf("jwtauth: replay cache unavailable: %w", err)
	case replayed:
		return "", reject(ReasonDPoPReplay, "proof jti already used")
	}
	return jkt, nil
}

// Inspect runs every check of Verify but also returns a DPoP-bound token
// (with its JKT set) instead of refusing it as a bearer token. It is for
// an authorization server revoking or introspecting a token (RFC 7009,
// RFC 7662), where the token is the object of the request, not the
// caller's credential; never authorize a request with it.
func (v *Verifier) Inspect(ctx context.Context, token string) (*Claims, error) {
	return v.done(v.verify(ctx, token))
}
