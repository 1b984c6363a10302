package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

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

// validateClients checks the structure of each declarative client. The
// syntax of redirect URIs and scopes is checked by the oauth package when
// the clients are loaded (`rampart config check` runs it too).
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
		switch {
		case cl.Public && (cl.SecretEnv != "" || cl.SecretHash != ""):
			bad(key, "a public client has no secret; remove secret_env/secret_hash or public: true")
		case !cl.Public && cl.SecretEnv == "" && cl.SecretHash == "":
			bad(key, "a confidential client needs secret_env (an environment variable with the secret) or secret_hash (an argon2id PHC string); or set public: true for a browser or native app")
		case cl.SecretEnv != "" && cl.SecretHash != "":
			bad(key, "set secret_env or secret_hash, not both")
		case cl.SecretHash != "" && !strings.HasPrefix(cl.SecretHash, "$argon2id$"):
			bad(key+".secret_hash", "must be an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash); never put the secret itself in the file")
		}
		if len(cl.GrantTypes) == 0 {
			bad(key+".grant_types", "is empty, so the client could do nothing; list authorization_code, client_credentials and/or refresh_token")
		}
		grants := map[string]bool{}
		for _, g := range cl.GrantTypes {
			switch g {
			case GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken:
			case "implicit", "password":
				bad(key+".grant_types", "%s is not supported: OAuth 2.1 removes it (RFC 9700 §2.1.2, §2.4); use authorization_code with PKCE", g)
			default:
				bad(key+".grant_types", "%q is not a grant type; use authorization_code, client_credentials or refresh_token", g)
			}
			if grants[g] {
				bad(key+".grant_types", "lists %s twice", g)
			}
			grants[g] = true
		}
		if cl.Public && grants[GrantClientCredentials] {
			bad(key+".grant_types", "client_credentials needs a confidential client (a public client cannot keep a secret, RFC 6749 §4.4)")
		}
		if grants[GrantRefreshToken] && !grants[GrantAuthorizationCode] {
			bad(key+".grant_types", "refresh_token needs authorization_code: refresh tokens are issued only to the code flow")
		}
		if grants[GrantAuthorizationCode] && len(cl.RedirectURIs) == 0 {
			bad(key+".redirect_uris", "authorization_code needs at least one exact redirect URI")
		}
		if !grants[GrantAuthorizationCode] && len(cl.RedirectURIs) > 0 {
			bad(key+".redirect_uris", "only the authorization_code grant uses redirect URIs")
		}
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
