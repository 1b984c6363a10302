package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/internal/identity"
)

// MinClientSecretLength is the shortest secret accepted from outside
// (secret_env): 32 characters of a generated secret carry well over 128
// bits; Rampart's own secrets carry 256 (RFC 6749 §10.10, RFC 9700 §2.5).
const MinClientSecretLength = 32

// validClientID: ids appear in tokens (client_id, azp, aud), URLs and
// logs, so they are restricted to a safe, printable set.
func validClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// ValidClientID reports whether id is an acceptable client id: 1 to 128
// characters from A-Z a-z 0-9 - _ . :
func ValidClientID(id string) bool { return validClientID(id) }

// validateClients checks each declarative client: its structure and the
// syntax of its redirect URIs, scopes, audiences and secret_hash. These are
// the same functions the oauth package applies to clients made with
// `rampart client create` (one decision, one place), so `rampart config
// check` refuses exactly what `rampart serve` would.
func (c *Config) validateClients(bad func(string, string, ...any)) {
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if !validClientID(cl.ID) {
			bad(key+".id", "%q is not a client id; use 1 to 128 characters from A-Z a-z 0-9 - _ . :", cl.ID)
		} else {
			key = fmt.Sprintf("clients[%d] (%s)", i, cl.ID)
		}
		if seen[cl.ID] {
			bad(key+".id", "is defined twice")
		}
		seen[cl.ID] = true
		validateClientAuth(key, cl, bad)
		validateClientProfile(key, cl, bad)
		validateClientSecret(key, cl, bad)
		validateClientURIs(key, cl, bad)
		for j, sc := range cl.Scopes {
			if !ValidScopeToken(sc) {
				bad(fmt.Sprintf("%s.scopes[%d]", key, j), "%q is not a scope (RFC 6749 §3.3: 1 to 128 printable ASCII characters without space, quote or backslash)", sc)
			}
		}
		for j, a := range cl.Audience {
			if err := CheckAudience(a); err != nil {
				bad(fmt.Sprintf("%s.audience[%d]", key, j), "%q: %v", a, err)
			}
		}
		validateClientGrants(key, cl, bad)
		validateClientTTLs(key, cl, bad)
	}
}

// validateClientSecret checks how a client proves itself: a public
// client has no secret, a confidential one exactly one readable secret
// reference (private_key_jwt keys: validateClientAuth).
func validateClientSecret(key string, cl Client, bad func(string, string, ...any)) {
	switch {
	case cl.EffectiveAuthMethod() == AuthMethodPrivateKeyJWT:
		// checked by validateClientAuth: keys, no secret
	case cl.Public && (cl.SecretEnv != "" || cl.SecretHash != ""):
		bad(key, "a public client has no secret; remove secret_env/secret_hash or public: true")
	case !cl.Public && cl.SecretEnv == "" && cl.SecretHash == "":
		bad(key, "a confidential client needs secret_env (an environment variable with the secret) or secret_hash (an argon2id PHC string); or set public: true for a browser or native app")
	case cl.SecretEnv != "" && cl.SecretHash != "":
		bad(key, "set secret_env or secret_hash, not both")
	case cl.SecretHash != "" && !strings.HasPrefix(cl.SecretHash, "$argon2id$"):
		bad(key+".secret_hash", "must be an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash); never put the secret itself in the file")
	case cl.SecretHash != "":
		// The same strict parser that verifies the secret at the token
		// endpoint: a hash it cannot read would make the client unusable.
		if _, _, _, err := identity.ParsePHC(cl.SecretHash); err != nil {
			bad(key+".secret_hash", "is not a valid argon2id PHC string (%v); generate it again, e.g. with `argon2 SALT -id -e`", err)
		}
	}
	if cl.SecretEnv != "" && !validEnvName(cl.SecretEnv) {
		bad(key+".secret_env", "%q is not an environment variable name; use letters, digits and _ (e.g. WEB_CLIENT_SECRET)", cl.SecretEnv)
	}
}

// validateClientURIs checks the URIs a client registers: redirect and
// post-logout targets (exact, RFC 9700 §4.1) and the https page links.
func validateClientURIs(key string, cl Client, bad func(string, string, ...any)) {
	for j, u := range cl.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			bad(fmt.Sprintf("%s.redirect_uris[%d]", key, j), "%q: %v", u, err)
		}
	}
	for j, u := range cl.PostLogoutRedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			bad(fmt.Sprintf("%s.post_logout_redirect_uris[%d]", key, j), "%q: %v", u, err)
		}
	}
	if len(cl.PostLogoutRedirectURIs) > 0 && !slices.Contains(cl.GrantTypes, GrantAuthorizationCode) {
		bad(key+".post_logout_redirect_uris", "only a client that signs users in (authorization_code) has a logout to return from")
	}
	if len(cl.DisplayName) > 64 || !utf8.ValidString(cl.DisplayName) || strings.ContainsFunc(cl.DisplayName, unicode.IsControl) {
		bad(key+".display_name", "use at most 64 bytes of printable text")
	}
	for _, u := range []struct{ name, v string }{{"logo_uri", cl.LogoURI}, {"policy_uri", cl.PolicyURI}, {"tos_uri", cl.TOSURI}} {
		if u.v != "" {
			if err := CheckPageURI(u.v); err != nil {
				bad(key+"."+u.name, "%q: %v", u.v, err)
			}
		}
	}
}

// validateClientGrants checks the grant types and what depends on them.
func validateClientGrants(key string, cl Client, bad func(string, string, ...any)) {
	if len(cl.GrantTypes) == 0 {
		bad(key+".grant_types", "is empty, so the client could do nothing; list authorization_code, client_credentials, refresh_token and/or "+GrantDeviceCode)
	}
	grants := map[string]bool{}
	for _, g := range cl.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken, GrantDeviceCode:
		case "implicit", "password":
			bad(key+".grant_types", "%s is not supported: OAuth 2.1 removes it (RFC 9700 §2.1.2, §2.4); use authorization_code with PKCE", g)
		default:
			bad(key+".grant_types", "%q is not a grant type; use authorization_code, client_credentials, refresh_token or %s", g, GrantDeviceCode)
		}
		if grants[g] {
			bad(key+".grant_types", "lists %s twice", g)
		}
		grants[g] = true
	}
	if cl.Public && grants[GrantClientCredentials] {
		bad(key+".grant_types", "client_credentials needs a confidential client (a public client cannot keep a secret, RFC 6749 §4.4)")
	}
	if grants[GrantRefreshToken] && !grants[GrantAuthorizationCode] && !grants[GrantDeviceCode] {
		bad(key+".grant_types", "refresh_token needs authorization_code or %s: refresh tokens are issued only to a user's grant", GrantDeviceCode)
	}
	if grants[GrantAuthorizationCode] && len(cl.RedirectURIs) == 0 {
		bad(key+".redirect_uris", "authorization_code needs at least one exact redirect URI")
	}
	if !grants[GrantAuthorizationCode] && len(cl.RedirectURIs) > 0 {
		bad(key+".redirect_uris", "only the authorization_code grant uses redirect URIs")
	}
	if cl.RequireMFA && !grants[GrantAuthorizationCode] && !grants[GrantDeviceCode] {
		bad(key+".require_mfa", "applies to users' sign-ins, and the client has neither authorization_code nor the device grant; remove it or add a grant")
	}
}

// validateClientTTLs checks the per-client token lifetimes.
func validateClientTTLs(key string, cl Client, bad func(string, string, ...any)) {
	for _, d := range []struct {
		name string
		v    Duration
		max  time.Duration
	}{
		{"access_token_ttl", cl.AccessTokenTTL, 24 * time.Hour},
		{"refresh_token_ttl", cl.RefreshTokenTTL, 8760 * time.Hour},
		{"refresh_token_idle_ttl", cl.RefreshTokenIdleTTL, 8760 * time.Hour},
	} {
		if d.v != 0 && (d.v.D() < time.Minute || d.v.D() > d.max) {
			bad(key+"."+d.name, "%s is out of range; use 1m to %s", d.v.D(), d.max)
		}
	}
}

// ValidateClients runs the client checks of Validate alone (the CLI uses
// it for clients made with `rampart client create`).
func (c *Config) ValidateClients() error {
	var errs []error
	c.validateClients(func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	})
	return errors.Join(errs...)
}

// CheckRedirectURI accepts what RFC 9700 §2.1 and RFC 8252 allow: an
// absolute https URI; http only on a loopback host (native apps, RFC 8252
// §7.3, and development); or a private-use scheme in reverse-domain form
// (RFC 8252 §7.1). No fragment (RFC 6749 §3.1.2), no user info, no
// wildcards: redirect URIs are matched exactly.
func CheckRedirectURI(s string) error {
	if len(s) > 2000 {
		return errors.New("longer than 2000 characters")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return errors.New("not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return errors.New("a redirect URI must not have a fragment (RFC 6749 §3.1.2)")
	}
	if u.User != nil {
		return errors.New("a redirect URI must not carry user info")
	}
	if strings.Contains(s, "*") {
		return errors.New("wildcards are not allowed; register each exact URI (RFC 9700 §4.1.3)")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("https URI without a host")
		}
	case "http":
		if !redirectLoopback(u.Hostname()) {
			return errors.New("http is allowed only on a loopback host (127.0.0.1, [::1], localhost); use https")
		}
	case "javascript", "data", "file", "vbscript", "blob":
		return fmt.Errorf("the %s scheme is not allowed", u.Scheme)
	default:
		if !strings.Contains(u.Scheme, ".") {
			return errors.New("a private-use scheme must be a reverse domain name, like com.example.app (RFC 8252 §7.1)")
		}
	}
	return nil
}

// redirectLoopback is the loopback rule of redirect URIs: the exact name
// localhost or a loopback IP literal (no case folding: redirect URIs are
// compared as exact strings).
func redirectLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidScopeToken reports whether s is a scope token: RFC 6749 §3.3
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), at most 128 bytes.
func ValidScopeToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// CheckAudience checks an access-token audience value (RFC 9068 §3 aud): 1
// to 512 characters without whitespace, quote, backslash or control
// characters, so it is one JSON string and one space-free token.
func CheckAudience(a string) error {
	if a == "" || len(a) > 512 {
		return errors.New("an audience has 1 to 512 characters")
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= 0x20 || c == 0x7F || c == '"' || c == '\\' {
			return errors.New("an audience must not contain spaces, quotes, backslashes or control characters")
		}
	}
	return nil
}

// CheckClientValues checks the redirect URIs, scopes and audiences of a
// client with the rules Validate applies to the configuration's clients.
// The oauth package calls it for every client it loads or creates.
func CheckClientValues(redirectURIs, scopes, audience []string) error {
	var errs []error
	for _, u := range redirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("redirect URI %q: %w", u, err))
		}
	}
	for _, s := range scopes {
		if !ValidScopeToken(s) {
			errs = append(errs, fmt.Errorf("%q is not a scope (RFC 6749 §3.3: printable ASCII without space, quote or backslash)", s))
		}
	}
	for _, a := range audience {
		if err := CheckAudience(a); err != nil {
			errs = append(errs, fmt.Errorf("%q is not an audience: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// validEnvName: POSIX environment variable names (letters, digits and _,
// not starting with a digit), at most 128 bytes.
func validEnvName(s string) bool {
	if s == "" || len(s) > 128 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// CheckPageURI checks a link or image a page shows for a client (logo,
// policy, terms): an absolute https URL with a host and no user info.
// Anything else (javascript:, data:, http) could run script, mix content
// or leak the page; html/template would neutralize an unsafe scheme, but
// the configuration refuses it outright so no page ever renders one.
func CheckPageURI(s string) error {
	if len(s) > 2000 {
		return errors.New("longer than 2000 characters")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("use an absolute https URL")
	}
	if u.User != nil {
		return errors.New("must not carry user info")
	}
	return nil
}
