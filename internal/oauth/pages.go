package oauth

import (
	"net/http"
	"net/url"
)

// builtinScopes describe the scopes the server itself defines (OIDC Core
// §5.4, §11). Configuration (oauth.scopes) may override them.
var builtinScopes = map[string]string{
	"openid":         "Sign you in to the application",
	"profile":        "See your username",
	"email":          "See your email address",
	"offline_access": "Keep access while you are away",
}

// ScopeDescription is a scope as a person sees it: what it means, and its
// id as secondary text.
type ScopeDescription struct {
	ID          string
	Description string // "" when nobody described it: the page shows the id alone
}

// DescribeScopes returns the human descriptions of scopes, in order, for
// every page that asks a user about scopes (consent, device). Descriptions
// come from the configuration (oauth.scopes), then the built-in ones; the
// page template escapes them (they are text, never HTML).
func (s *Server) DescribeScopes(scopes []string) []ScopeDescription {
	out := make([]ScopeDescription, 0, len(scopes))
	for _, sc := range scopes {
		d, ok := s.opts.ScopeDescriptions[sc]
		if !ok {
			d = builtinScopes[sc]
		}
		out = append(out, ScopeDescription{ID: sc, Description: d})
	}
	return out
}

// ClientDisplay is a client as pages present it.
type ClientDisplay struct {
	ID        string
	Name      string // the display name, or the id when it has none
	LogoURI   string // https only (config validation); shown as an image
	PolicyURI string
	TOSURI    string
}

// DisplayClient returns how pages present c. Every value is text for an
// html/template page (escaped there); the URIs were checked to be https
// when the client was registered, so no javascript: link can appear.
func DisplayClient(c *Client) ClientDisplay {
	name := c.DisplayName
	if name == "" {
		name = c.ID
	}
	return ClientDisplay{ID: c.ID, Name: name, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI}
}

// imageOrigin is the CSP img-src source of a logo URI ("" if none).
func imageOrigin(logo string) string {
	u, err := url.Parse(logo)
	if logo == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return ""
	}
	return "https://" + u.Host
}

// consentView is one row of the account page's consent list.
type consentView struct {
	ClientID string
	Name     string
	Scopes   []ScopeDescription
	Audience []string
}

func (s *Server) consentViews(r *http.Request, cs []Consent) []consentView {
	out := make([]consentView, 0, len(cs))
	for _, c := range cs {
		name := c.ClientID
		if cl, err := s.opts.Clients.Get(r.Context(), c.ClientID); err == nil && cl.DisplayName != "" {
			name = cl.DisplayName
		}
		out = append(out, consentView{ClientID: c.ClientID, Name: name, Scopes: s.DescribeScopes(c.Scopes), Audience: c.Audience})
	}
	return out
}
