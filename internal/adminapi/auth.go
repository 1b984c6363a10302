package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// Scope is the scope an access token needs for the admin API.
const Scope = "rampart:admin"

// ACRMFA is the acr of a sign-in that passed a second factor: the admin
// API refuses any other (an administrator's stolen password alone must
// not administer the server; NIST SP 800-63B §4.2 AAL2).
const ACRMFA = oauth.ACRMFA

// authenticate checks the caller: a valid access token of this issuer
// (Bearer, or DPoP with its proof), meant for this API, with the admin
// scope, from a sign-in that passed MFA, naming an enabled administrator.
// It answers the refusal itself (RFC 6750 §3: 401 with a challenge for a
// missing or bad token, 403 insufficient_scope for a token that is not
// enough) and returns the actor otherwise.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, call *callInfo) (string, bool) {
	claims, err := a.o.Auth.AuthenticateRequest(r)
	if errors.Is(err, oauth.ErrNoAccessToken) {
		call.reason = "no_token"
		challenge(w, r, http.StatusUnauthorized, "", "an access token is required")
		return "", false
	}
	if err != nil {
		call.reason = "invalid_token"
		challenge(w, r, http.StatusUnauthorized, "invalid_token", "the access token is invalid")
		return "", false
	}
	// From here the token is genuine: a refusal names who presented it
	// (the evidence of an attempt, not an anonymous one).
	call.actor = tokenActor(claims.Subject, claims.ClientID)
	// The audience: a token minted for another resource server must not
	// administer this one (RFC 9068 §4; RFC 8707). The API accepts its own
	// audience, and the issuer's default one (what a client registered
	// without an audience receives: this server's own endpoints).
	if !slices.Contains(claims.Audience, a.o.Issuer+Prefix) && !slices.Contains(claims.Audience, oauth.DefaultAudience(a.o.Issuer)) {
		call.reason = "audience"
		challenge(w, r, http.StatusUnauthorized, "invalid_token", "the access token is not meant for the admin API")
		return "", false
	}
	if !slices.Contains(strings.Fields(claims.Scope), Scope) {
		call.reason = "scope"
		challenge(w, r, http.StatusForbidden, "insufficient_scope", "the access token lacks the rampart:admin scope")
		return "", false
	}
	var extra struct {
		ACR string `json:"acr"`
	}
	if err := json.Unmarshal(claims.Raw, &extra); err != nil || extra.ACR != ACRMFA {
		call.reason = "mfa_required"
		challenge(w, r, http.StatusForbidden, "insufficient_user_authentication",
			"the admin API needs a sign-in with a second factor") // RFC 9470 §3
		return "", false
	}
	u, err := a.o.Users.ByID(r.Context(), claims.Subject)
	if err != nil || u.Disabled || u.Role != identity.RoleAdmin {
		// A client-credentials token (its subject is a client), a user
		// who is not (or no longer) an administrator, a disabled user.
		call.reason = "not_admin"
		challenge(w, r, http.StatusForbidden, "insufficient_scope", "the token's subject is not an administrator")
		return "", false
	}
	return "user:" + u.ID, true
}

// challenge answers a refused token: a WWW-Authenticate challenge for
// both schemes the API accepts (RFC 6750 §3, RFC 9449 §7.1) and a
// problem+json body.
func challenge(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	params := `realm="rampart-admin"`
	if code != "" {
		params += `, error="` + code + `", error_description="` + desc + `"`
	}
	if status == http.StatusForbidden && code == "insufficient_user_authentication" {
		params += `, acr_values="` + ACRMFA + `"`
	}
	w.Header().Add("WWW-Authenticate", "Bearer "+params)
	w.Header().Add("WWW-Authenticate", "DPoP "+params)
	httpx.WriteProblem(w, r, status, "", desc)
}

// tokenActor names the subject of a verified token for the audit trail: a
// client-credentials token's subject is its client.
func tokenActor(sub, clientID string) string {
	if sub == clientID {
		return "client:" + sub
	}
	return "user:" + sub
}
