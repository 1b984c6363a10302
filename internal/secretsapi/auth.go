package secretsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/jwtauth"
)

// The caller's identity is decided here and nowhere else: nothing in a
// request but its verified access token (main listener) or its verified
// client certificate (ca.listen) names a principal. No header a client
// sends (X-Rampart-*, X-Forwarded-*, Forwarded) is read: a proxy's
// identity headers are for upstreams of the gateway, never for Rampart
// itself (OWASP Authentication Cheat Sheet; CWE-290).

// AdminScope is the scope of an administrator's token; with an MFA
// sign-in (acr oauth.ACRMFA) and the admin role it acts as KindAdmin.
const AdminScope = "rampart:admin"

// Authenticator decides the principal of a request, or refuses it with
// an *AuthError.
type Authenticator interface {
	Authenticate(r *http.Request) (secrets.Principal, error)
}

// AuthError is a refused authentication: 401 with a challenge.
type AuthError struct {
	// Scheme is the challenge's scheme(s) ("Bearer", "DPoP", "MutualTLS").
	Schemes []string
	// Code is the RFC 6750 §3.1 error code ("" for a request without
	// credentials), Public its safe description.
	Code, Public string
	// Reason is the audit reason code; Actor who presented a genuine
	// credential that was refused ("" when nobody is known).
	Reason, Actor string
}

func (e *AuthError) Error() string { return "secretsapi: authentication refused: " + e.Reason }

// TokenVerifier verifies a request's access token (oauth.Server's
// AuthenticateRequest: Bearer or DPoP, signature, issuer, expiry, the
// deny list).
type TokenVerifier interface {
	AuthenticateRequest(r *http.Request) (*jwtauth.Claims, error)
}

// UserLookup finds the user a token names (identity.Users).
type UserLookup interface {
	ByID(ctx context.Context, id string) (*identity.User, error)
}

// TokenAuth authenticates access tokens of this issuer on the main
// listener.
type TokenAuth struct {
	// Issuer is the server's issuer: the API's own audience is Issuer +
	// Prefix; oauth.DefaultAudience(Issuer) is accepted too (the audience
	// of a client registered without one: this server's own endpoints).
	Issuer   string
	Verifier TokenVerifier
	Users    UserLookup
	// DenyList is the deny list the Verifier consults (the store's, as
	// oauth.NewStoreDenyList): with it, verified Bearer tokens are cached
	// for TokenCacheTTL and the deny list is checked on every hit;
	// without it nothing is cached.
	DenyList jwtauth.DenyList
	Clock    func() time.Time // default time.Now

	cache tokenCache
}

// errInvalidToken: a cached token that expired or was revoked since.
var errInvalidToken = oauth.ErrInvalidAccessToken

var _ Authenticator = (*TokenAuth)(nil)

var tokenSchemes = []string{"Bearer", "DPoP"}

// Authenticate maps a verified token to a principal:
//
//   - a client_credentials token (sub = client_id): KindClient{client_id,
//     scopes};
//   - a user's token: KindUser{sub, the user's role now (from the
//     identity store, not the token: a demoted user loses their role's
//     policies at once), scopes}; a disabled or deleted user is refused;
//   - an administrator's token (scope rampart:admin, acr MFA, the admin
//     role now): KindAdmin{sub}, as on the admin API (NIST SP 800-63B
//     §4.2: AAL2 for administration).
func (t *TokenAuth) Authenticate(r *http.Request) (secrets.Principal, error) {
	claims, err := t.verify(r)
	if errors.Is(err, oauth.ErrNoAccessToken) {
		return secrets.Principal{}, &AuthError{Schemes: tokenSchemes, Public: "an access token is required", Reason: "no_token"}
	}
	if err != nil {
		return secrets.Principal{}, &AuthError{Schemes: tokenSchemes, Code: "invalid_token", Public: "the access token is invalid", Reason: "invalid_token"}
	}
	actor := "user:" + claims.Subject
	client := claims.ClientID != "" && claims.Subject == claims.ClientID
	if client {
		actor = "client:" + claims.ClientID
	}
	// RFC 9068 §4, RFC 8707: a token minted for another resource server
	// must not read secrets.
	if !slices.Contains(claims.Audience, t.Issuer+Prefix) && !slices.Contains(claims.Audience, oauth.DefaultAudience(t.Issuer)) {
		return secrets.Principal{}, &AuthError{Schemes: tokenSchemes, Code: "invalid_token", Public: "the access token is not meant for the secrets API", Reason: "audience", Actor: actor}
	}
	scopes := strings.Fields(claims.Scope) // RFC 9068 §2.2.3: space-separated
	if client {
		return secrets.Principal{Kind: secrets.KindClient, ID: claims.ClientID, Scopes: scopes}, nil
	}
	u, err := t.Users.ByID(r.Context(), claims.Subject)
	if err != nil || u.Disabled {
		return secrets.Principal{}, &AuthError{Schemes: tokenSchemes, Code: "invalid_token", Public: "the access token's user is unknown or disabled", Reason: "user_disabled", Actor: actor}
	}
	if u.Role == identity.RoleAdmin && slices.Contains(scopes, AdminScope) && acrOf(claims) == oauth.ACRMFA {
		return secrets.Principal{Kind: secrets.KindAdmin, ID: u.ID}, nil
	}
	return secrets.Principal{Kind: secrets.KindUser, ID: u.ID, Role: PolicyRole(u.Role), Scopes: scopes}, nil
}

// RoleUser is how policies name the role of a user without one
// (identity.RoleUser, the empty role): `roles: [user]`.
const RoleUser = "user"

// PolicyRole is the role a policy matches for an identity role.
func PolicyRole(role string) string {
	if role == identity.RoleUser {
		return RoleUser
	}
	return role
}

func acrOf(c *jwtauth.Claims) string {
	var extra struct {
		ACR string `json:"acr"`
	}
	if json.Unmarshal(c.Raw, &extra) != nil {
		return ""
	}
	return extra.ACR
}

// PeerVerifier verifies the TLS client certificate of a request as an
// X509-SVID of this CA (chain to the current bundle, not revoked,
// clientAuth) and returns its SPIFFE ID.
type PeerVerifier interface {
	VerifyPeer(r *http.Request) (spiffeid.ID, error)
}

// PeerAuth authenticates mTLS peers on ca.listen: the principal is the
// verified SVID's SPIFFE ID. No token is read there.
type PeerAuth struct {
	Verifier PeerVerifier
}

var _ Authenticator = PeerAuth{}

var peerSchemes = []string{"MutualTLS"}

// Authenticate returns KindSPIFFE{the peer's SPIFFE ID}.
func (p PeerAuth) Authenticate(r *http.Request) (secrets.Principal, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return secrets.Principal{}, &AuthError{Schemes: peerSchemes, Public: "a client certificate (an X509-SVID of this CA) is required", Reason: "no_certificate"}
	}
	id, err := p.Verifier.VerifyPeer(r)
	if err != nil {
		return secrets.Principal{}, &AuthError{Schemes: peerSchemes, Code: "invalid_certificate", Public: "the client certificate is not a valid X509-SVID of this CA", Reason: "invalid_certificate"}
	}
	return secrets.Principal{Kind: secrets.KindSPIFFE, ID: id.String()}, nil
}

// authenticate runs the Authenticator; a refusal is answered (401 and a
// challenge per scheme, RFC 6750 §3, RFC 9449 §7.1) and recorded.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, action string) (secrets.Principal, bool) {
	p, err := a.o.Auth.Authenticate(r)
	if err == nil {
		return p, true
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		a.o.Logger.ErrorContext(r.Context(), "secretsapi: authentication", "err", err)
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "")
		return secrets.Principal{}, false
	}
	actor := ae.Actor
	if actor == "" {
		actor = "anonymous"
	}
	e := audit.Event{Actor: actor, Action: action, Target: "api:" + r.Method, Outcome: audit.OutcomeDenied, Reason: ae.Reason,
		ClientAddr: httpx.ClientIP(r), RequestID: httpx.RequestIDFrom(r.Context())}
	if rerr := a.o.Audit.Record(r.Context(), e); rerr != nil {
		a.o.Logger.ErrorContext(r.Context(), "secretsapi: audit record failed", "action", action, "err", rerr)
	}
	params := `realm="rampart-secrets"`
	if ae.Code != "" {
		params += `, error="` + ae.Code + `", error_description="` + ae.Public + `"`
	}
	for _, s := range ae.Schemes {
		w.Header().Add("WWW-Authenticate", s+" "+params)
	}
	httpx.WriteProblem(w, r, http.StatusUnauthorized, "", ae.Public)
	return secrets.Principal{}, false
}
