package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
)

// The FAPI 2.0 Security Profile (Final, February 2025) for clients with
// `profile: fapi2`. Configuration validation (config.CheckProfile) refuses
// a fapi2 client that contradicts the profile; at run time each rule is
// applied by the one check that already enforces it for other clients,
// through the helpers below:
//
//   - PAR required (§5.3.2.2): Server.mustPush via requiresPAR;
//   - DPoP proofs at the token endpoint (§5.3.2.1, sender-constrained
//     tokens): checkTokenProof via requiresDPoP;
//   - private_key_jwt (§5.3.2.1): the registry and the assertion check
//     via usesPrivateKeyJWT;
//   - a pushed request binds a DPoP key and names its redirect_uri
//     (checkFAPIPushed, par.go);
//   - refresh tokens are not rotated (§5.3.2.1): refreshGrant via
//     rotatesRefresh.
//
// PKCE S256, codes living CodeTTL (60 s, §5.3.2.2) and iss in the
// authorization response (RFC 9207) apply to every client already.

// FAPI2 reports whether c follows the FAPI 2.0 Security Profile.
func (c *Client) FAPI2() bool { return c.Profile == config.ProfileFAPI2 }

// requiresPAR: the client's authorization requests must be pushed (its
// require_pushed_authorization_requests, or the profile: FAPI 2.0 SP
// §5.3.2.2 "shall require pushed authorization requests").
func (c *Client) requiresPAR() bool { return c.RequirePAR || c.FAPI2() }

// requiresDPoP: the client's token requests must carry a DPoP proof (its
// require_dpop, or the profile: FAPI 2.0 SP §5.3.2.1 "shall only issue
// sender-constrained access tokens", DPoP being Rampart's method).
func (c *Client) requiresDPoP() bool { return c.RequireDPoP || c.FAPI2() }

// usesPrivateKeyJWT: the client authenticates only with a private_key_jwt
// assertion (RFC 7523), registered explicitly or implied by the profile
// (FAPI 2.0 SP §5.3.2.1: private_key_jwt or mTLS; an empty method of a
// fapi2 client means private_key_jwt).
func (c *Client) usesPrivateKeyJWT() bool {
	return c.AuthMethod == config.AuthMethodPrivateKeyJWT || (c.AuthMethod == "" && c.FAPI2())
}

// rotatesRefresh: the refresh grant spends the presented refresh token
// for a new one (OAuth 2.1 §4.3.1). Not for a fapi2 client: FAPI 2.0 SP
// §5.3.2.1 "shall not use refresh token rotation" unless a retry with the
// previous token succeeds after a lost response; such a client is
// confidential, authenticates with private_key_jwt and holds DPoP-bound
// access tokens, so a stolen refresh token alone is useless (RFC 9700
// §4.14.2 lists sender-constraining as the alternative to rotation).
func (c *Client) rotatesRefresh() bool { return !c.FAPI2() }

// assertionAlgorithms are the algorithms c's private_key_jwt assertions
// may use: a fapi2 client's only PS256, ES256 or EdDSA (FAPI 2.0 SP
// §5.4.1), every other client's the asymmetric assertionAlgs.
func (c *Client) assertionAlgorithms() []string {
	if c.FAPI2() {
		return config.FAPIAlgorithms
	}
	return assertionAlgs
}

// proofAlgAllowed reports whether a DPoP proof that jwtauth accepted may
// be used by c: a fapi2 client's proofs are signed with PS256, ES256 or
// EdDSA only (FAPI 2.0 SP §5.4.1; jwtauth's default list also has
// RS256). alg is read from the proof's protected header, which jwtauth
// verified with that algorithm.
func (c *Client) proofAlgAllowed(proof string) bool {
	return !c.FAPI2() || slices.Contains(config.FAPIAlgorithms, jwsAlg(proof))
}

// maxJWSHeader bounds the header jwsAlg decodes (a DPoP proof's header
// holds the public key: an RSA-4096 JWK is under 1 KiB).
const maxJWSHeader = 8 << 10

// jwsAlg is the alg of a compact JWS's protected header, "" when it
// cannot be read.
func jwsAlg(jws string) string {
	head, _, ok := strings.Cut(jws, ".")
	if !ok || len(head) > maxJWSHeader {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

// refreshKeeper extends refresh tokens that are not rotated.
type refreshKeeper interface {
	// KeepRefresh extends the idle expiry of the live, unspent,
	// unrevoked refresh token with hash to expiresAt (never shortening
	// it), in one conditional statement; store.ErrNotFound when the token
	// is unknown, spent, revoked or expired at now, or its family is
	// revoked.
	KeepRefresh(ctx context.Context, hash []byte, expiresAt, now time.Time) error
}
