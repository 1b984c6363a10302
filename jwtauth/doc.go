// Package jwtauth verifies JWT access tokens (RFC 9068) and DPoP proofs
// (RFC 9449) with a policy that cannot be talked into a bypass: the key
// decides the algorithm, never the token; "none" and HMAC-from-JWKS are
// impossible; every structural, signature and claim check of RFC 8725 is
// applied; failures carry a typed Reason for logs and metrics and are shown
// to clients only as RFC 6750 error codes.
//
// It depends on nothing in Rampart's internal packages and can be imported
// by any Go service:
//
//	keys, _ := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: "https://auth.example.com/.well-known/jwks.json"})
//	v, _ := jwtauth.New(jwtauth.Config{
//		Issuer:    "https://auth.example.com",
//		Keys:      keys,
//		Audiences: []string{"https://api.example.com"},
//	})
//	http.Handle("/api/", jwtauth.Middleware(v, jwtauth.MiddlewareConfig{})(api))
package jwtauth
