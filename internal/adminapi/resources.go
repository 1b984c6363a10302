package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/httpx"
)

// ClientRequest is the body of POST /clients: the ClientSpec of
// `rampart client create`, in the ClientView's member names.
type ClientRequest struct {
	ID             string   `json:"client_id"`
	Public         bool     `json:"public"`
	GrantTypes     []string `json:"grant_types"`
	RedirectURIs   []string `json:"redirect_uris"`
	Scopes         []string `json:"scopes"`
	Audience       []string `json:"audience"`
	SkipConsent    bool     `json:"skip_consent"`
	ResourceServer bool     `json:"resource_server"`
	RequireDPoP    bool     `json:"require_dpop"`
	// CertBound: certificate_bound_access_tokens (RFC 8705 §3.4).
	CertBound bool `json:"certificate_bound_access_tokens"`
	// AuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt or none ("" the kind's default); a private_key_jwt
	// client registers JWKS (a JWK Set object) or JWKSURI.
	AuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS       json.RawMessage `json:"jwks"`
	JWKSURI    string          `json:"jwks_uri"`
	RequirePAR bool            `json:"require_pushed_authorization_requests"`
	RequireMFA bool            `json:"require_mfa"`
	// Profile is "" or fapi2 (the FAPI 2.0 Security Profile).
	Profile         string `json:"profile"`
	AccessTokenTTL  string `json:"access_token_ttl"`
	RefreshTokenTTL string `json:"refresh_token_ttl"`
	// What pages show of the client, and its RP-initiated logout targets.
	DisplayName            string   `json:"display_name"`
	LogoURI                string   `json:"logo_uri"`
	PolicyURI              string   `json:"policy_uri"`
	TOSURI                 string   `json:"tos_uri"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Service.ListClients(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": list})
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) {
	v, err := a.o.Service.GetClient(r.Context(), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request) {
	var req ClientRequest
	if !decode(w, r, &req) {
		return
	}
	spec := admin.ClientSpec{ID: req.ID, Public: req.Public, GrantTypes: req.GrantTypes, RedirectURIs: req.RedirectURIs,
		Scopes: req.Scopes, Audience: req.Audience, SkipConsent: req.SkipConsent, ResourceServer: req.ResourceServer, RequireDPoP: req.RequireDPoP, CertBound: req.CertBound,
		AuthMethod: req.AuthMethod, JWKSURI: req.JWKSURI, RequirePAR: req.RequirePAR, RequireMFA: req.RequireMFA,
		DisplayName: req.DisplayName, LogoURI: req.LogoURI, PolicyURI: req.PolicyURI, TOSURI: req.TOSURI, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		Profile: req.Profile}
	if len(req.JWKS) > 0 && string(req.JWKS) != "null" {
		spec.JWKS = []byte(req.JWKS)
	}
	var err error
	if spec.AccessTokenTTL, err = optDuration("access_token_ttl", req.AccessTokenTTL); err == nil {
		spec.RefreshTokenTTL, err = optDuration("refresh_token_ttl", req.RefreshTokenTTL)
	}
	if err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	c, secret, err := a.o.Service.CreateClient(r.Context(), actorOf(r), spec)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	callOf(r).object = c.ID
	v := admin.ViewClient(c)
	v.Secret = secret
	w.Header().Set("Location", Prefix+"/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, v)
}

// optDuration parses an optional Go duration member ("10m").
func optDuration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &durationError{name: name}
	}
	return d, nil
}

type durationError struct{ name string }

func (e *durationError) Error() string {
	return e.name + " must be a positive duration like 10m or 720h"
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) {
	n, err := a.o.Service.DeleteClient(r.Context(), actorOf(r), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked_access_tokens": n})
}

// RotateRequest is the optional body of POST /clients/{id}/rotate-secret.
type RotateRequest struct {
	// Overlap keeps the old secret valid this long ("24h"); empty or
	// absent: the old secret stops at once.
	Overlap string `json:"overlap"`
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id := pathID(r, "id")
	var req RotateRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	overlap, err := optDuration("overlap", req.Overlap)
	if err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	secret, err := a.o.Service.RotateClientSecret(r.Context(), actorOf(r), id, overlap)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"client_id": id, "client_secret": secret})
}

func (a *API) retireSecret(w http.ResponseWriter, r *http.Request) {
	had, err := a.o.Service.RetireClientSecret(r.Context(), actorOf(r), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"retired": had})
}

// UserRequest is the body of POST /users.
type UserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"` // #nosec G117 -- the new user's initial password, sent once over TLS and hashed at once
	Role     string `json:"role"`     // "" or "user" (a user), "admin"
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	lim, err := queryInt(r, "limit", 100, 1, admin.MaxListLimit)
	if err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	if r.URL.Query().Has("username") {
		a.userByName(w, r)
		return
	}
	after := r.URL.Query().Get("after")
	if len(after) > 256 {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "after is longer than a username")
		return
	}
	list, err := a.o.Service.ListUsers(r.Context(), after, int(lim))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"users": list}
	if len(list) == int(lim) {
		out["next_after"] = list[len(list)-1].Username
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req UserRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Role == "user" {
		req.Role = ""
	}
	u, err := a.o.Service.CreateUser(r.Context(), actorOf(r), req.Username, req.Password, req.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	callOf(r).object = u.ID
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, admin.ViewUser(u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	v, err := a.o.Service.GetUser(r.Context(), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) disableUser(w http.ResponseWriter, r *http.Request) {
	ended, err := a.o.Service.DisableUser(r.Context(), actorOf(r), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ended)
}

func (a *API) enableUser(w http.ResponseWriter, r *http.Request) {
	if err := a.o.Service.EnableUser(r.Context(), actorOf(r), pathID(r, "id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// RoleRequest is the body of PUT /users/{id}/role.
type RoleRequest struct {
	Role string `json:"role"` // "user" or "admin"
}

func (a *API) setRole(w http.ResponseWriter, r *http.Request) {
	var req RoleRequest
	if !decode(w, r, &req) {
		return
	}
	role := req.Role
	if role == "user" {
		role = ""
	} else if role == "" {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "role is required: user or admin")
		return
	}
	n, err := a.o.Service.SetUserRole(r.Context(), actorOf(r), pathID(r, "id"), role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": req.Role, "sessions_ended": n})
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Service.ListUserSessions(r.Context(), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

func (a *API) endSessions(w http.ResponseWriter, r *http.Request) {
	n, err := a.o.Service.EndUserSessions(r.Context(), actorOf(r), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions_ended": n})
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Service.ListKeys(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": list})
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.o.Service.RotateKey(r.Context(), actorOf(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	callOf(r).object = k.KID
	writeJSON(w, http.StatusOK, admin.ViewKey(k))
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	rev, err := a.o.Service.RevokeKey(r.Context(), actorOf(r), pathID(r, "kid"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"revoked": admin.ViewKey(rev.Revoked), "already_gone": rev.AlreadyGone}
	if rev.Replacement != nil {
		out["replacement"] = admin.ViewKey(*rev.Replacement)
	}
	writeJSON(w, http.StatusOK, out)
}

// userByName answers GET /users?username=NAME: the one user with exactly
// that username (after the sign-in normalization), or none, in the list's
// shape, so the CLI's --username needs no second resource.
func (a *API) userByName(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	if len(name) > 256 {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "username is longer than a username")
		return
	}
	v, err := a.o.Service.GetUserByName(r.Context(), name)
	var nf *admin.NotFoundError
	switch {
	case errors.As(err, &nf):
		writeJSON(w, http.StatusOK, map[string]any{"users": []admin.UserView{}})
	case err != nil:
		a.fail(w, r, err)
	default:
		callOf(r).object = v.ID
		writeJSON(w, http.StatusOK, map[string]any{"users": []admin.UserView{v}})
	}
}

// PasswordRequest is the body of POST /users/{id}/reset-password.
type PasswordRequest struct {
	Password string `json:"password"` // #nosec G117 -- the administrator's temporary password, sent once over TLS and hashed at once
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	id := pathID(r, "id")
	var req PasswordRequest
	if !decode(w, r, &req) {
		return
	}
	ended, err := a.o.Service.ResetPassword(r.Context(), actorOf(r), id, req.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ended)
}

func (a *API) disableClient(w http.ResponseWriter, r *http.Request) {
	n, err := a.o.Service.DisableClient(r.Context(), actorOf(r), pathID(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked_access_tokens": n})
}

func (a *API) enableClient(w http.ResponseWriter, r *http.Request) {
	if err := a.o.Service.EnableClient(r.Context(), actorOf(r), pathID(r, "id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
