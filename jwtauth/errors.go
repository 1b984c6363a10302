package jwtauth

import (
	"errors"
	"fmt"
)

// Reason classifies why a token or proof was rejected. It is safe for logs,
// metrics labels and audit events; it is never sent to the client (the
// client sees only the RFC 6750 error code).
type Reason string

// Rejection reasons.
const (
	ReasonMalformed       Reason = "malformed"          // not a strict compact JWS, bad base64url, bad JSON, duplicate members
	ReasonTooLarge        Reason = "too_large"          // over the size cap
	ReasonAlgNotAllowed   Reason = "alg_not_allowed"    // alg missing, "none", not on the allowlist, or not the key's algorithm
	ReasonForbiddenHeader Reason = "forbidden_header"   // jku, x5u, jwk, x5c headers
	ReasonCrit            Reason = "crit"               // a crit header (no extension is understood), b64:false
	ReasonUnknownKey      Reason = "unknown_key"        // no key with this kid (or kid malformed)
	ReasonBadKey          Reason = "bad_key"            // the key fails the key policy (short RSA, off-curve, use:enc, oct, private…)
	ReasonBadSignature    Reason = "bad_signature"      // the signature does not verify
	ReasonType            Reason = "wrong_type"         // typ is not the expected one
	ReasonExpired         Reason = "expired"            // exp in the past (beyond leeway)
	ReasonNotYetValid     Reason = "not_yet_valid"      // nbf in the future (beyond leeway)
	ReasonIssuedInFuture  Reason = "issued_in_future"   // iat in the future (beyond leeway)
	ReasonMissingClaim    Reason = "missing_claim"      // a required claim is absent
	ReasonBadClaim        Reason = "bad_claim"          // a claim has the wrong type or an out-of-range value
	ReasonIssuer          Reason = "wrong_issuer"       // iss differs
	ReasonAudience        Reason = "wrong_audience"     // aud lacks every expected audience
	ReasonScope           Reason = "insufficient_scope" // a required scope is missing
	ReasonClaimValue      Reason = "claim_mismatch"     // a required claim value differs
	ReasonRevoked         Reason = "revoked"            // jti on the deny list
	ReasonDenyListError   Reason = "deny_list_error"    // the deny list could not answer (fail closed)
	ReasonKeySourceError  Reason = "key_source_error"   // keys could not be obtained (issuer down, no stale keys)
	ReasonDPoPRequired    Reason = "dpop_required"      // a DPoP-bound token without a (valid) proof, or sent as Bearer
	ReasonDPoPInvalid     Reason = "dpop_invalid"       // the proof is malformed or its signature/key is wrong
	ReasonDPoPMismatch    Reason = "dpop_mismatch"      // htm, htu, ath or cnf.jkt do not match
	ReasonDPoPReplay      Reason = "dpop_replay"        // the proof's jti was already used
	ReasonDPoPStale       Reason = "dpop_stale"         // the proof's iat is outside the window
	ReasonDPoPNonce       Reason = "dpop_nonce"         // a server nonce is required or does not match
)

// Error is a rejection: a Reason for machines and a Detail for operators'
// logs. Neither is meant for the client.
type Error struct {
	Reason Reason
	Detail string
	Err    error
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "jwtauth: " + string(e.Reason)
	}
	return fmt.Sprintf("jwtauth: %s: %s", e.Reason, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of err, or "" when err is not a rejection.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// detailOf returns the Detail of a rejection, or err's text.
func detailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return err.Error()
}

func reject(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ErrUnknownKey is returned by a KeySource that has no key for a kid.
var ErrUnknownKey = errors.New("jwtauth: unknown key id")
