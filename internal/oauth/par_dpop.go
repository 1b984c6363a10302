package oauth

import (
	"net/http"
	"net/url"
)

// bindPushedKey applies DPoP at the pushed authorization request endpoint
// (RFC 9449 §10.1): a DPoP proof on the PAR request (htm POST, htu the
// PAR endpoint as the issuer names it) is checked with the token
// endpoint's ProofChecker (the same replay cache, nonces and algorithms),
// and its key's thumbprint becomes the request's dpop_jkt, so the code it
// yields is redeemed only with a proof of that key. A dpop_jkt in the
// body must then name the same key (§10.1: "the authorization server
// MUST ensure that [they] match"), else invalid_dpop_proof.
//
// A fapi2 client's pushed request must bind a key, by a proof or by
// dpop_jkt: its code is then bound from the start, and a code stolen
// from the redirect (or injected into another session) is useless
// without the client's DPoP key (FAPI 2.0 SP §5.3.2.1 sender-constrained
// tokens; RFC 9449 §10 authorization code binding).
func (s *Server) bindPushedKey(r *http.Request, c *Client, params url.Values) *Error {
	proof, e := dpopHeader(r.Header)
	if e != nil {
		s.auditProof(r, c, "malformed_header")
		return e
	}
	if len(params["dpop_jkt"]) > 1 {
		return oerr(ErrInvalidRequest, "the dpop_jkt parameter appears more than once")
	}
	if proof != "" {
		jkt, e := s.checkProof(r, c, proof, s.opts.Issuer+PathPAR)
		if e != nil {
			return e
		}
		if given := params.Get("dpop_jkt"); given != "" && given != jkt {
			s.auditProof(r, c, "dpop_jkt_mismatch")
			return oerr(ErrInvalidDPoPProof, "dpop_jkt does not match the DPoP proof's key")
		}
		params.Set("dpop_jkt", jkt)
	}
	if c.FAPI2() && params.Get("dpop_jkt") == "" {
		s.auditProof(r, c, "pushed_key_required")
		return oerr(ErrInvalidRequest, "a fapi2 client must bind a DPoP key to its pushed request: send a DPoP proof or dpop_jkt (RFC 9449 §10)")
	}
	return nil
}
