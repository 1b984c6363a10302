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
// header (RFC 6750 §2.1), with the openid scope, for a user.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	bearer := func(status int, code, desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart", error="`+code+`", error_description="`+desc+`"`)
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": ErrInvalidToken, "error_description": "a bearer access token is required"})
		return
	}
	claims, err := s.verifier.Verify(r.Context(), tok)
	if err != nil {
		if jwtauth.ReasonOf(err) == jwtauth.ReasonKeySourceError {
			s.log.ErrorContext(r.Context(), "userinfo", "err", err)
		}
		bearer(http.StatusUnauthorized, ErrInvalidToken, "the access token is invalid")
		return
	}
	if !claims.HasScope("openid") {
		bearer(http.StatusForbidden, ErrInsufficientScope, "the openid scope is required")
		return
	}
	user, err := s.opts.Users.ByID(r.Context(), claims.Subject)
	if err != nil || user.Disabled {
		bearer(http.StatusUnauthorized, ErrInvalidToken, "the access token is invalid")
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
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	m := map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + PathAuthorize,
		"token_endpoint":                                 iss + PathToken,
		"jwks_uri":                                       iss + "/.well-known/jwks.json",
		"userinfo_endpoint":                              iss + PathUserinfo,
		"revocation_endpoint":                            iss + PathRevoke,
		"introspection_endpoint":                         iss + PathIntrospect,
		"end_session_endpoint":                           iss + PathEndSession,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          auth,
		"revocation_endpoint_auth_methods_supported":     auth,
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                               scopes,
		"claims_supported":                               []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "preferred_username"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{alg},
		"prompt_values_supported":                        []string{"none", "login", "consent", "select_account"},
		"authorization_response_iss_parameter_supported": true,
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
	}
	b, _ := json.Marshal(m)
	return b
}
