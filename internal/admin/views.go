package admin

import (
	"encoding/hex"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// The views are how the CLI and the admin API show what they manage: one
// JSON shape for both, so a script can move from `--config` to `--issuer`
// without parsing anything new. None of them carries a secret or a hash;
// a generated client secret is added by the use case that created it.

// ClientView is a client as shown (never its secret hash).
type ClientView struct {
	ID             string   `json:"client_id"`
	Type           string   `json:"type"`   // public | confidential
	Source         string   `json:"source"` // config | cli
	GrantTypes     []string `json:"grant_types"`
	RedirectURIs   []string `json:"redirect_uris,omitempty"`
	Scopes         []string `json:"scopes,omitempty"`
	Audience       []string `json:"audience,omitempty"`
	SkipConsent    bool     `json:"skip_consent"`
	ResourceServer bool     `json:"resource_server"`
	RequireDPoP    bool     `json:"require_dpop,omitempty"`
	RequireMFA     bool     `json:"require_mfa,omitempty"`
	CertBound      bool     `json:"certificate_bound_access_tokens,omitempty"`
	AuthMethod     string   `json:"token_endpoint_auth_method,omitempty"`
	JWKSURI        string   `json:"jwks_uri,omitempty"`
	InlineJWKS     bool     `json:"jwks_inline,omitempty"`
	RequirePAR     bool     `json:"require_pushed_authorization_requests,omitempty"`
	DisplayName    string   `json:"display_name,omitempty"`
	LogoURI        string   `json:"logo_uri,omitempty"`
	PolicyURI      string   `json:"policy_uri,omitempty"`
	TOSURI         string   `json:"tos_uri,omitempty"`
	PostLogout     []string `json:"post_logout_redirect_uris,omitempty"`
	Profile        string   `json:"profile,omitempty"` // fapi: "" or fapi2
	AccessTTL      string   `json:"access_token_ttl,omitempty"`
	RefreshTTL     string   `json:"refresh_token_ttl,omitempty"`
	CreatedAt      string   `json:"created_at,omitempty"`
	// Disabled: `rampart client disable` (only stored clients).
	Disabled bool `json:"disabled"`
	// Secret is set only in the answer that generated it.
	Secret string `json:"client_secret,omitempty"` // #nosec G117 -- shown once to the operator who created it, by design
}

// ViewClient returns c's view.
func ViewClient(c *oauth.Client) ClientView {
	v := ClientView{ID: c.ID, Type: "confidential", Source: c.Source, GrantTypes: c.GrantTypes, RedirectURIs: c.RedirectURIs,
		Scopes: c.Scopes, Audience: c.Audience, SkipConsent: c.SkipConsent, ResourceServer: c.ResourceServer, RequireDPoP: c.RequireDPoP, RequireMFA: c.RequireMFA, CertBound: c.CertificateBoundAccessTokens,
		AuthMethod: c.AuthMethod, JWKSURI: c.JWKSURI, InlineJWKS: len(c.JWKS) > 0, RequirePAR: c.RequirePAR,
		DisplayName: c.DisplayName, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI, PostLogout: c.PostLogoutRedirectURIs,
		Profile: c.Profile, Disabled: c.Disabled}
	if c.Public {
		v.Type = "public"
	}
	if c.AccessTokenTTL > 0 {
		v.AccessTTL = c.AccessTokenTTL.String()
	}
	if c.RefreshTokenTTL > 0 {
		v.RefreshTTL = c.RefreshTokenTTL.String()
	}
	v.CreatedAt = rfc3339(c.CreatedAt)
	return v
}

// UserView is a user as shown (never the password hash).
type UserView struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Role      string `json:"role"` // "user" or "admin"
	Disabled  bool   `json:"disabled"`
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// ViewUser returns u's view.
func ViewUser(u *identity.User) UserView {
	role := u.Role
	if role == "" {
		role = "user"
	}
	return UserView{ID: u.ID, Username: u.Username, Role: role, Disabled: u.Disabled,
		CreatedAt: rfc3339(u.CreatedAt), UpdatedAt: rfc3339(u.UpdatedAt)}
}

// SessionView is a browser session as shown: its id is a hash prefix
// (enough to tell sessions apart, useless as a cookie).
type SessionView struct {
	ID        string `json:"id"`
	AuthTime  string `json:"auth_time"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
}

// ViewSession returns s's view.
func ViewSession(s *identity.Session) SessionView {
	return SessionView{ID: sessionRef(s.IDHash), AuthTime: rfc3339(s.AuthTime), CreatedAt: rfc3339(s.CreatedAt), ExpiresAt: rfc3339(s.ExpiresAt)}
}

// sessionRef names a session by the first 8 bytes of its hash, in hex.
func sessionRef(idHash []byte) string {
	return hex.EncodeToString(idHash[:min(len(idHash), 8)])
}

// KeyView is a signing key as shown.
type KeyView struct {
	KID        string `json:"kid"`
	Algorithm  string `json:"alg"`
	State      string `json:"state"`
	CreatedAt  string `json:"created_at,omitempty"`
	ActivateAt string `json:"activate_at,omitempty"`
	RetiredAt  string `json:"retired_at,omitempty"`
	RemoveAt   string `json:"remove_at,omitempty"`
}

// ViewKey returns k's view.
func ViewKey(k keys.KeyInfo) KeyView {
	return KeyView{KID: k.KID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: rfc3339(k.CreatedAt),
		ActivateAt: rfc3339(k.ActivateAt), RetiredAt: rfc3339(k.RetiredAt), RemoveAt: rfc3339(k.RemoveAt)}
}

// AuditView is one audit record as shown.
type AuditView struct {
	Seq        int64             `json:"seq"`
	Time       string            `json:"time"`
	Actor      string            `json:"actor"`
	Action     string            `json:"action"`
	Target     string            `json:"target,omitempty"`
	Outcome    string            `json:"outcome"`
	Reason     string            `json:"reason,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	RequestID  string            `json:"request_id,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
	Hash       string            `json:"hash"`
}

// ViewAudit returns r's view.
func ViewAudit(r *audit.Record) AuditView {
	return AuditView{Seq: r.Seq, Time: r.Time.UTC().Format(time.RFC3339Nano), Actor: r.Actor, Action: r.Action, Target: r.Target,
		Outcome: r.Outcome, Reason: r.Reason, ClientAddr: r.ClientAddr, RequestID: r.RequestID, Details: r.Details, Hash: hex.EncodeToString(r.Hash)}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
