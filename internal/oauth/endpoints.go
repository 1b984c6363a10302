package oauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-auth/rampart/jwtauth"
)

// handleUserinfo is OIDC Core §5.3: the access token in the Authorization
// header (RFC 6750 §2.1), with the openid scope, for a user. A DPoP-bound
// token comes with the DPoP scheme and a proof for this request (RFC 9449
// §7.1, htu the issuer's userinfo URL); presented as Bearer it is refused.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	isDPoP := ok && strings.EqualFold(scheme, "DPoP")
	challenge := func(status int, code, desc string) {
		if isDPoP || code == ErrInvalidDPoPProof {
			w.Header().Set("WWW-Authenticate", `DPoP realm="rampart", algs="`+strings.Join(s.proofs.Algorithms(), " ")+`", error="`+code+`", error_description="`+desc+`"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rampart", error="`+code+`", error_description="`+desc+`"`)
		}
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if !ok || tok == "" || !(isDPoP || strings.EqualFold(scheme, "Bearer")) || len(r.Header.Values("Authorization")) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
		w.Header().Add("WWW-Authenticate", `DPoP realm="rampart", algs="`+strings.Join(s.proofs.Algorithms(), " ")+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": ErrInvalidToken, "error_description": "an access token is required"})
		return
	}
	var (
		claims *jwtauth.Claims
		err    error
	)
	if isDPoP {
		proof, e := dpopHeader(r.Header)
		if e == nil && proof == "" {
			e = oerr(ErrInvalidDPoPProof, "a DPoP proof is required")
		}
		if e != nil {
			challenge(http.StatusUnauthorized, ErrInvalidDPoPProof, e.Description)
			return
		}
		claims, err = s.verifier.VerifyDPoP(r.Context(), tok, proof, r.Method, s.opts.Issuer+PathUserinfo)
	} else {
		claims, err = s.verifier.Verify(r.Context(), tok)
	}
	if err != nil {
		switch reason := jwtauth.ReasonOf(err); reason {
		case jwtauth.ReasonKeySourceError, "":
			s.log.ErrorContext(r.Context(), "userinfo", "err", err)
		case jwtauth.ReasonDPoPRequired:
			// RFC 9449 §7.2: a bound token is never accepted as Bearer.
			isDPoP = true
			challenge(http.StatusUnauthorized, ErrInvalidToken, "the access token is DPoP-bound: use the DPoP scheme with a proof")
			return
		case jwtauth.ReasonDPoPInvalid, jwtauth.ReasonDPoPReplay, jwtauth.ReasonDPoPStale:
			challenge(http.StatusUnauthorized, ErrInvalidDPoPProof, proofProblem(reason))
			return
		case jwtauth.ReasonDPoPMismatch:
			// htm, htu, ath, or a proof of another key than cnf.jkt.
			challenge(http.StatusUnauthorized, ErrInvalidDPoPProof, "the DPoP proof does not match the request or the token")
			return
		}
		challenge(http.StatusUnauthorized, ErrInvalidToken, "the access token is invalid")
		return
	}
	if !certBindingHolds(r, claims) {
		// RFC 8705 §3: this listener requests no client certificate, so
		// a certificate-bound token cannot be used here.
		challenge(http.StatusUnauthorized, ErrInvalidToken, "the access token is bound to a client certificate that this connection did not present")
		return
	}
	if !claims.HasScope("openid") {
		challenge(http.StatusForbidden, ErrInsufficientScope, "the openid scope is required")
		return
	}
	user, err := s.opts.Users.ByID(r.Context(), claims.Subject)
	if err != nil || user.Disabled {
		challenge(http.StatusUnauthorized, ErrInvalidToken, "the access token is invalid")
		return
	}
	out := map[string]any{"sub": user.ID}
	if claims.HasScope("profile") {
		out["preferred_username"] = user.Username
	}
	writeJSON(w, http.StatusOK, out)
}

// discoveryHandler serves RFC 8414 / OIDC Discovery metadata listing
// exactly what is supported.
func (s *Server) discoveryHandler() http.Handler {
	var (
		once sync.Once
		body []byte
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { body = s.metadata() })
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

func (s *Server) metadata() []byte {
	iss := s.opts.Issuer
	alg := "ES256"
	if k, err := s.opts.Signer.Signer(); err == nil {
		alg = k.Algorithm
	}
	scopes := []string{"openid", "profile"}
	for _, c := range s.opts.Clients.Configured() {
		for _, sc := range c.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	slices.Sort(scopes[2:])
	auth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
	m := map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + PathAuthorize,
		"token_endpoint":                                iss + PathToken,
		"jwks_uri":                                      iss + "/.well-known/jwks.json",
		"userinfo_endpoint":                             iss + PathUserinfo,
		"revocation_endpoint":                           iss + PathRevoke,
		"introspection_endpoint":                        iss + PathIntrospect,
		"end_session_endpoint":                          iss + PathEndSession,
		"device_authorization_endpoint":                 iss + PathDeviceAuthorization,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken, GrantDeviceCode},
		"code_challenge_methods_supported":              []string{"S256"},
		"token_endpoint_auth_methods_supported":         auth,
		"revocation_endpoint_auth_methods_supported":    auth,
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		// parjwt: the algorithms of private_key_jwt assertions (RFC 8414 §2).
		"token_endpoint_auth_signing_alg_values_supported":         assertionAlgs,
		"revocation_endpoint_auth_signing_alg_values_supported":    assertionAlgs,
		"introspection_endpoint_auth_signing_alg_values_supported": assertionAlgs,
		"scopes_supported":                               scopes,
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "preferred_username", "amr", "acr"},
		"acr_values_supported":                           []string{ACRMFA, ACRPassword},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{alg},
		"prompt_values_supported":                        []string{"none", "login", "consent", "select_account"},
		"authorization_response_iss_parameter_supported": true,
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		// RFC 9449 §5.1: the proof algorithms the token endpoint accepts.
		"dpop_signing_alg_values_supported": s.proofs.Algorithms(),
		// parjwt: RFC 9126 §5.
		"pushed_authorization_request_endpoint": iss + PathPAR,
		"require_pushed_authorization_requests": s.opts.RequirePAR,
	}
	if s.opts.MTLS != nil {
		// RFC 8705 §3.3 and §5: certificate-bound tokens are issued at the
		// alias, the enrolment listener that requests client certificates.
		m["tls_client_certificate_bound_access_tokens"] = true
		m["mtls_endpoint_aliases"] = map[string]string{"token_endpoint": s.opts.MTLS.TokenEndpoint()}
	}
	b, _ := json.Marshal(m)
	return b
}
