package config

import (
	"fmt"
	"net/url"
	"slices"
)

// Client profiles (clients[].profile).
const (
	// ProfileFAPI2 is the FAPI 2.0 Security Profile (Final, February
	// 2025): a confidential client with private_key_jwt, pushed
	// authorization requests, PKCE S256 and DPoP-bound tokens.
	ProfileFAPI2 = "fapi2"
)

// FAPIAlgorithms are the only JWS algorithms of the FAPI 2.0 Security
// Profile (§5.4.1: "shall use PS256, ES256, or EdDSA (using the Ed25519
// variant)"), for what a fapi2 client signs (assertions, DPoP proofs) and
// what the server signs (keys.algorithm).
var FAPIAlgorithms = []string{"PS256", "ES256", "EdDSA"}

// ValidProfile reports whether p is a client profile ("" is none).
func ValidProfile(p string) bool { return p == "" || p == ProfileFAPI2 }

// EffectiveAuthMethod is the client's token_endpoint_auth_method, with
// the profile's default: an empty one means private_key_jwt for a fapi2
// client (FAPI 2.0 SP §5.3.2.1: private_key_jwt or mTLS, and Rampart
// has no mTLS client authentication).
func (cl Client) EffectiveAuthMethod() string {
	if cl.TokenEndpointAuthMethod == "" && cl.Profile == ProfileFAPI2 {
		return AuthMethodPrivateKeyJWT
	}
	return cl.TokenEndpointAuthMethod
}

// CheckProfile refuses a client whose settings contradict its profile,
// one error per contradiction, each naming the key (the checks of
// validateClientProfile, for clients made with `rampart client create`
// through ValidateClients too). hasSecret: secret_env or secret_hash is
// set (or a secret would be generated).
func CheckProfile(profile string, public bool, authMethod string, hasSecret bool, jwks []byte, jwksURI string, grantTypes, redirectURIs []string) []ProfileProblem {
	if !ValidProfile(profile) {
		return []ProfileProblem{{"profile", fmt.Sprintf("%q is not a profile; use fapi2 or leave it empty", profile)}}
	}
	if profile != ProfileFAPI2 {
		return nil
	}
	var out []ProfileProblem
	add := func(key, format string, args ...any) {
		out = append(out, ProfileProblem{key, fmt.Sprintf(format, args...)})
	}
	if public {
		// FAPI 2.0 SP §5.3.2.1: "shall only support confidential clients".
		add("public", "a fapi2 client must be confidential (FAPI 2.0 SP §5.3.2.1); remove public: true")
	}
	if authMethod != "" && authMethod != AuthMethodPrivateKeyJWT {
		// §5.3.2.1: private_key_jwt or mTLS client authentication only.
		add("token_endpoint_auth_method", "%q is not allowed for a fapi2 client: use private_key_jwt (FAPI 2.0 SP §5.3.2.1) or leave it empty", authMethod)
	}
	if hasSecret {
		add("secret_env", "a fapi2 client authenticates with private_key_jwt and has no secret (FAPI 2.0 SP §5.3.2.1); remove secret_env/secret_hash")
	}
	if len(jwks) == 0 && jwksURI == "" {
		add("jwks", "a fapi2 client needs jwks or jwks_uri: its private_key_jwt assertions are checked with those keys (FAPI 2.0 SP §5.3.2.1)")
	}
	if keys, err := CheckJWKS(jwks); len(jwks) > 0 && err == nil {
		// §5.4.1: clients sign with PS256, ES256 or EdDSA only; a key
		// pinned to another algorithm could sign nothing acceptable.
		// (The keys of a jwks_uri are held to it at run time.)
		for i, k := range keys {
			if !slices.Contains(FAPIAlgorithms, k.Algorithm) {
				add(fmt.Sprintf("jwks.keys[%d]", i), "alg %s is not allowed for a fapi2 client: use PS256, ES256 or EdDSA (FAPI 2.0 SP §5.4.1)", k.Algorithm)
			}
		}
	}
	for i, u := range redirectURIs {
		// §5.3.2.2: authorization responses never travel unencrypted.
		// The profile tolerates loopback http for native apps; Rampart
		// refuses it for fapi2 too (RFC 9700 §2.1: a loopback port can
		// be taken by another local process).
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" {
			add(fmt.Sprintf("redirect_uris[%d]", i), "%q: a fapi2 client needs https redirect URIs (FAPI 2.0 SP §5.3.2.2); loopback http is refused too", u)
		}
	}
	for _, g := range grantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			add("grant_types", "client_credentials is outside the FAPI 2.0 flow (the profile secures the authorization code flow, FAPI 2.0 SP §5.3.2.2): use a separate client without profile for it")
		default:
			add("grant_types", "%s is not allowed for a fapi2 client: use authorization_code (and refresh_token) only (FAPI 2.0 SP §5.3.2.2)", g)
		}
	}
	return out
}

// ProfileProblem is one contradiction of a client with its profile: the
// client key at fault and what to change.
type ProfileProblem struct {
	Key     string
	Problem string
}

// validateClientProfile is the fapi part of validateClients.
func validateClientProfile(key string, cl Client, bad func(string, string, ...any)) {
	for _, p := range CheckProfile(cl.Profile, cl.Public, cl.TokenEndpointAuthMethod, cl.SecretEnv != "" || cl.SecretHash != "",
		cl.JWKS, cl.JWKSURI, cl.GrantTypes, cl.RedirectURIs) {
		bad(key+"."+p.Key, "%s", p.Problem)
	}
}

// validateFAPIKeys refuses keys.algorithm RS256 when a fapi2 client
// exists: FAPI 2.0 SP §5.4.1 allows only PS256, ES256 and EdDSA (RSA
// PKCS#1 v1.5 signatures are excluded), and the server signs that
// client's ID tokens and access tokens with keys.algorithm.
func validateFAPIKeys(c *Config, bad func(string, string, ...any)) {
	if c.Keys.Algorithm != AlgRS256 {
		return
	}
	for _, cl := range c.Clients {
		if cl.Profile == ProfileFAPI2 {
			bad("keys.algorithm", "RS256 is not allowed while a fapi2 client exists (%s): FAPI 2.0 SP §5.4.1 allows PS256, ES256 or EdDSA only", cl.ID)
			return
		}
	}
}
