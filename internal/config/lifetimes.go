package config

import "time"

// MaxTokenTTL is the longest lifetime Validate allows for an access or ID
// token (tokens.*, a client's access_token_ttl) and oauth.CheckClient
// allows for a client registered with the CLI.
const MaxTokenTTL = 24 * time.Hour

// MaxTokenLifetime is the longest a token signed now can stay valid, so
// that a retired signing key stays published in the JWKS at least that
// long (keys.Options.MaxTokenLifetime): the configured lifetimes, and the
// MaxTokenTTL floor because a client created later with the CLI may use up
// to that without a restart.
func (c *Config) MaxTokenLifetime() time.Duration {
	m := max(c.Tokens.AccessTokenTTL.D(), c.Tokens.IDTokenTTL.D())
	for _, cl := range c.Clients {
		m = max(m, cl.AccessTokenTTL.D())
	}
	return max(m, MaxTokenTTL)
}
