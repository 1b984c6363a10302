package oauth

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/jwtauth"
)

// DPoP issuing (RFC 9449). The token endpoint checks a request's DPoP
// proof before the grant is dispatched (checkTokenProof) and passes the
// proof key's thumbprint to the grant through the request context
// (withProofKey); the token issuer binds what it mints to it: access
// tokens carry cnf.jkt and are answered with token_type DPoP, a public
// client's refresh tokens are bound to the key (§5). The proofs are
// checked by jwtauth (jwtauth.ProofChecker: the same parser and policy as
// at every resource server).

// DPoPReplayPrefix is the Redis key prefix of the token endpoint's DPoP
// replay cache (jwtauth.RedisReplayCache), apart from the gateway's.
const DPoPReplayPrefix = "rampart:oauth:dpop:"

// Token types of a token response (RFC 6749 §7.1, RFC 9449 §5).
const (
	tokenTypeBearer = "Bearer"
	tokenTypeDPoP   = "DPoP"
)

// jktLen is the length of an RFC 7638 SHA-256 thumbprint in base64url.
const jktLen = 43

// proofKeyCtx carries the thumbprint of the key of a token request's
// valid DPoP proof from the token endpoint to the grant and the issuer.
type proofKeyCtx struct{}

// withProofKey returns ctx carrying jkt ("" for a request without proof).
func withProofKey(ctx context.Context, jkt string) context.Context {
	if jkt == "" {
		return ctx
	}
	return context.WithValue(ctx, proofKeyCtx{}, jkt)
}

// proofKey is the thumbprint of the request's DPoP proof key, "" for none.
func proofKey(ctx context.Context) string {
	jkt, _ := ctx.Value(proofKeyCtx{}).(string)
	return jkt
}

// tokenType is the token_type of an access token bound to jkt.
func tokenType(jkt string) string {
	if jkt != "" {
		return tokenTypeDPoP
	}
	return tokenTypeBearer
}

// confirmation is the cnf claim of a sender-constrained token: the DPoP
// key's thumbprint (RFC 9449 §6.1), the client certificate's (RFC 8705
// §3.1), or both.
type confirmation struct {
	JKT string `json:"jkt,omitempty"`
	X5T string `json:"x5t#S256,omitempty"`
}

// cnf is the cnf claim for a token bound to the DPoP key jkt and the
// client certificate x5t ("" for either absent), nil for neither.
func cnf(jkt, x5t string) *confirmation {
	if jkt == "" && x5t == "" {
		return nil
	}
	return &confirmation{JKT: jkt, X5T: x5t}
}

// newProofChecker builds the token endpoint's proof checker: replay nil
// means an in-process cache (one instance; app wires Redis for a fleet),
// nonces nil means no server nonce is required.
func newProofChecker(replay jwtauth.ReplayCache, nonces jwtauth.NonceChecker, now func() time.Time) (*jwtauth.ProofChecker, jwtauth.ReplayCache, error) {
	if replay == nil {
		replay = jwtauth.NewMemoryReplayCache(now, 0)
	}
	// The algorithms and the 60 s iat window are jwtauth's defaults, the
	// same as the resource servers'; future iat within the default leeway.
	p, err := jwtauth.NewProofChecker(jwtauth.DPoPConfig{Replay: replay, Nonces: nonces}, 0, now)
	return p, replay, err
}

// dpopHeader returns the request's one DPoP header (RFC 9449 §4.3 step 1:
// "there is not more than one DPoP HTTP request header field"); "" when
// there is none. Its size is jwtauth's to bound.
func dpopHeader(h http.Header) (string, *Error) {
	vals := h.Values("DPoP")
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", oerr(ErrInvalidDPoPProof, "exactly one DPoP header is allowed")
	}
	v := strings.TrimSpace(vals[0])
	if v == "" {
		return "", oerr(ErrInvalidDPoPProof, "the DPoP header is empty")
	}
	return v, nil
}

// setNonce sends a fresh server nonce on a token endpoint response, when
// nonces are required (RFC 9449 §8.2: the server may supply a new nonce
// on any response).
func (s *Server) setNonce(w http.ResponseWriter) {
	if n := s.proofs.Nonces(); n != nil {
		w.Header().Set("DPoP-Nonce", n.Current())
	}
}

// checkTokenProof checks the DPoP proof of a token request of client c
// (RFC 9449 §5) for POST to htu, the token endpoint URL as the issuer
// identifier (or the mTLS alias's configured URL) names it, never the
// request's Host or X-Forwarded-*: the
// thumbprint of its key, "" when there is no proof and the client may do
// without. Every refusal but a nonce challenge is audited: a replayed
// proof or one made for another endpoint is an attack signal.
func (s *Server) checkTokenProof(r *http.Request, c *Client, htu string) (string, *Error) {
	proof, e := dpopHeader(r.Header)
	if e != nil {
		s.auditProof(r, c, "malformed_header")
		return "", e
	}
	if proof == "" {
		if c.requiresDPoP() {
			// RFC 9449 §5: a server requiring DPoP answers a request
			// without a proof with invalid_dpop_proof.
			s.auditProof(r, c, "proof_required")
			return "", oerr(ErrInvalidDPoPProof, "the client must send a DPoP proof")
		}
		return "", nil
	}
	return s.checkProof(r, c, proof, htu)
}

// checkProof checks a DPoP proof of client c for POST to htu (an
// endpoint URL as the issuer identifier names it) with the server's one
// ProofChecker: the thumbprint of its key, or the error to answer.
func (s *Server) checkProof(r *http.Request, c *Client, proof, htu string) (string, *Error) {
	jkt, err := s.proofs.Check(r.Context(), proof, http.MethodPost, htu)
	if err == nil && !c.proofAlgAllowed(proof) {
		s.auditProof(r, c, "alg_not_allowed")
		return "", oerr(ErrInvalidDPoPProof, "the DPoP proof's algorithm is not allowed for this client: use PS256, ES256 or EdDSA (FAPI 2.0 SP §5.4.1)")
	}
	if err == nil {
		return jkt, nil
	}
	reason := jwtauth.ReasonOf(err)
	if reason == jwtauth.ReasonDPoPNonce {
		// §8: the client retries with the nonce of the DPoP-Nonce header
		// every token endpoint response carries (setNonce).
		return "", oerr(ErrUseDPoPNonce, "the authorization server requires a DPoP nonce")
	}
	if reason == "" {
		// The replay cache could not answer: fail closed, as the
		// server's fault.
		s.log.ErrorContext(r.Context(), "dpop proof check", "err", err)
		return "", serverError(err)
	}
	s.auditProof(r, c, string(reason))
	return "", oerr(ErrInvalidDPoPProof, "%s", proofProblem(reason))
}

// proofProblem is the client-facing description of a refused proof: what
// to fix, never jwtauth's operator detail.
func proofProblem(r jwtauth.Reason) string {
	switch r {
	case jwtauth.ReasonDPoPReplay:
		return "the DPoP proof was already used"
	case jwtauth.ReasonDPoPMismatch:
		return "the DPoP proof is not for this request (htm or htu)"
	case jwtauth.ReasonDPoPStale:
		return "the DPoP proof's iat is outside the accepted window"
	}
	return "the DPoP proof is invalid"
}

// auditProof records a refused proof of client c.
func (s *Server) auditProof(r *http.Request, c *Client, reason string) {
	s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionDPoPProof, Target: "client:" + c.ID, Outcome: audit.OutcomeDenied, Reason: reason})
}

// validJKT reports whether s looks like an RFC 7638 SHA-256 thumbprint
// in base64url without padding (the dpop_jkt parameter, RFC 9449 §10).
func validJKT(s string) bool {
	if len(s) != jktLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
