// Package adminclient calls a running Rampart's admin API: the remote
// half of the CLI's client and user commands (`--issuer URL` with a token
// from `rampart login`). It speaks the shapes of internal/admin's views.
package adminclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/httpx"
)

// Prefix is the admin API's path under the issuer.
const Prefix = "/admin/api/v1"

// Client calls the admin API of one issuer with one access token.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for issuer. The issuer must be https, or http on a
// loopback address (the token is a bearer credential: RFC 6750 §5.3).
// hc nil means a client with a 30 s timeout that follows no redirects (a
// redirect would carry the token elsewhere).
func New(issuer, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("--issuer %q is not an issuer URL like https://auth.example.com", issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--issuer %q: plain http is only allowed on a loopback address; the token would travel in clear", issuer)
		}
	default:
		return nil, fmt.Errorf("--issuer %q must be an https URL", issuer)
	}
	if token == "" {
		return nil, errors.New("no access token: pass --token-file (the output of `rampart login --output FILE`) or set RAMPART_TOKEN")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: strings.TrimSuffix(issuer, "/") + Prefix, token: token, hc: &c}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadToken returns the access token of file (the JSON token response
// `rampart login --output` writes, or a file holding the token alone) or,
// when file is empty, of the environment value env.
func LoadToken(file, env string) (string, error) {
	if file == "" {
		return strings.TrimSpace(env), nil
	}
	b, err := os.ReadFile(file) // #nosec G304 -- the operator names their own token file
	if err != nil {
		return "", fmt.Errorf("cannot read the token file: %w", err)
	}
	if len(b) > 1<<20 {
		return "", errors.New("the token file is larger than 1 MiB; it is not a token")
	}
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "{") {
		var resp struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal([]byte(s), &resp); err != nil || resp.AccessToken == "" {
			return "", errors.New("the token file is JSON without an access_token member")
		}
		if strings.EqualFold(resp.TokenType, "DPoP") {
			return "", errors.New("the token in the file is DPoP-bound; the CLI sends bearer tokens: run `rampart login` without DPoP")
		}
		return resp.AccessToken, nil
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "", errors.New("the token file holds more than one token")
	}
	return s, nil
}

// Error is a refusal of the admin API: its status and problem detail.
type Error = httpx.APIError

// do sends method path with in as the JSON body (nil for none) and
// decodes a successful answer into out (nil to ignore it).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return httpx.CallJSON(ctx, c.hc, method, c.base+path, c.token, in, out, "admin API")
}

// ListClients lists every client.
func (c *Client) ListClients(ctx context.Context) ([]admin.ClientView, error) {
	var out struct {
		Clients []admin.ClientView `json:"clients"`
	}
	return out.Clients, c.do(ctx, http.MethodGet, "/clients", nil, &out)
}

// GetClient shows one client.
func (c *Client) GetClient(ctx context.Context, id string) (admin.ClientView, error) {
	var out admin.ClientView
	return out, c.do(ctx, http.MethodGet, "/clients/"+url.PathEscape(id), nil, &out)
}

// CreateClient registers a client; the view carries a generated secret.
func (c *Client) CreateClient(ctx context.Context, spec admin.ClientSpec) (admin.ClientView, error) {
	in := map[string]any{"client_id": spec.ID, "public": spec.Public, "grant_types": spec.GrantTypes,
		"redirect_uris": spec.RedirectURIs, "scopes": spec.Scopes, "audience": spec.Audience,
		"skip_consent": spec.SkipConsent, "resource_server": spec.ResourceServer, "require_dpop": spec.RequireDPoP,
		"certificate_bound_access_tokens": spec.CertBound,
		"token_endpoint_auth_method":      spec.AuthMethod, "jwks_uri": spec.JWKSURI, "require_pushed_authorization_requests": spec.RequirePAR,
		"require_mfa": spec.RequireMFA, "display_name": spec.DisplayName, "logo_uri": spec.LogoURI, "policy_uri": spec.PolicyURI,
		"tos_uri": spec.TOSURI, "post_logout_redirect_uris": spec.PostLogoutRedirectURIs,
		"profile": spec.Profile}
	if len(spec.JWKS) > 0 {
		in["jwks"] = json.RawMessage(spec.JWKS)
	}
	if spec.AccessTokenTTL > 0 {
		in["access_token_ttl"] = spec.AccessTokenTTL.String()
	}
	if spec.RefreshTokenTTL > 0 {
		in["refresh_token_ttl"] = spec.RefreshTokenTTL.String()
	}
	var out admin.ClientView
	return out, c.do(ctx, http.MethodPost, "/clients", in, &out)
}

// DeleteClient deletes a client and returns how many access tokens were
// denied.
func (c *Client) DeleteClient(ctx context.Context, id string) (int, error) {
	var out struct {
		N int `json:"revoked_access_tokens"`
	}
	return out.N, c.do(ctx, http.MethodDelete, "/clients/"+url.PathEscape(id), nil, &out)
}

// RotateClientSecret replaces a client's secret and returns the new one;
// the old one stays valid for overlap.
func (c *Client) RotateClientSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	var out struct {
		Secret string `json:"client_secret"`
	}
	var in any
	if overlap > 0 {
		in = map[string]string{"overlap": overlap.String()}
	}
	return out.Secret, c.do(ctx, http.MethodPost, "/clients/"+url.PathEscape(id)+"/rotate-secret", in, &out)
}

// RetireClientSecret ends the previous secret's overlap now.
func (c *Client) RetireClientSecret(ctx context.Context, id string) (bool, error) {
	var out struct {
		Retired bool `json:"retired"`
	}
	return out.Retired, c.do(ctx, http.MethodPost, "/clients/"+url.PathEscape(id)+"/retire-secret", nil, &out)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, username, password, role string) (admin.UserView, error) {
	var out admin.UserView
	in := map[string]string{"username": username, "password": password, "role": role}
	return out, c.do(ctx, http.MethodPost, "/users", in, &out)
}

// DisableClient disables a stored client and returns how many live
// access tokens were denied.
func (c *Client) DisableClient(ctx context.Context, id string) (int, error) {
	var out struct {
		N int `json:"revoked_access_tokens"`
	}
	return out.N, c.do(ctx, http.MethodPost, "/clients/"+url.PathEscape(id)+"/disable", nil, &out)
}

// EnableClient enables a disabled stored client.
func (c *Client) EnableClient(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/clients/"+url.PathEscape(id)+"/enable", nil, nil)
}

// ListUsers returns up to limit users whose username sorts after after.
func (c *Client) ListUsers(ctx context.Context, after string, limit int) ([]admin.UserView, error) {
	var out struct {
		Users []admin.UserView `json:"users"`
	}
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	return out.Users, c.do(ctx, http.MethodGet, "/users?"+q.Encode(), nil, &out)
}

// UserByName returns the user with exactly that username; an *Error with
// status 404 when there is none.
func (c *Client) UserByName(ctx context.Context, username string) (admin.UserView, error) {
	var out struct {
		Users []admin.UserView `json:"users"`
	}
	if err := c.do(ctx, http.MethodGet, "/users?"+url.Values{"username": {username}}.Encode(), nil, &out); err != nil {
		return admin.UserView{}, err
	}
	if len(out.Users) != 1 {
		return admin.UserView{}, &Error{Status: http.StatusNotFound, Title: http.StatusText(http.StatusNotFound), Detail: "no user " + username}
	}
	return out.Users[0], nil
}

// DisableUser disables a user and ends everything they hold.
func (c *Client) DisableUser(ctx context.Context, id string) (admin.Ended, error) {
	var out admin.Ended
	return out, c.do(ctx, http.MethodPost, "/users/"+url.PathEscape(id)+"/disable", nil, &out)
}

// EnableUser enables a disabled user.
func (c *Client) EnableUser(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/users/"+url.PathEscape(id)+"/enable", nil, nil)
}

// ResetPassword sets a user's password (they must change it at the next
// sign-in) and ends everything they hold.
func (c *Client) ResetPassword(ctx context.Context, id, password string) (admin.Ended, error) {
	var out admin.Ended
	return out, c.do(ctx, http.MethodPost, "/users/"+url.PathEscape(id)+"/reset-password", map[string]string{"password": password}, &out)
}
