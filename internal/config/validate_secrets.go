package config

import (
	"fmt"
	"slices"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// Secret policy capabilities, rotators and PostgreSQL rotation strategies
// (the secrets section's vocabulary).
var (
	SecretCapabilities = []string{"read", "list", "write", "delete", "destroy", "rotate", "lease"}
	SecretRotators     = []string{"random", "postgres", "oauth_client", "signing_key"}
	SecretStrategies   = []string{"single", "alternating"}
)

// validateSecrets checks the secrets section. The rules of each part live
// beside it: policies, databases and dynamic roles, rotations.
func (c *Config) validateSecrets(bad func(string, string, ...any)) {
	s := c.Secrets
	if s.KeepVersions < 1 || s.KeepVersions > MaxKeepVersions {
		bad("secrets.keep_versions", "%d is out of range; use 1 to %d (default %d)", s.KeepVersions, MaxKeepVersions, DefaultKeepVersions)
	}
	c.validateSecretPolicies(bad)
	c.validateSecretDatabases(bad)
	c.validateSecretRotations(bad)
}

// validateSecretPolicies checks secrets.policies.
func (c *Config) validateSecretPolicies(bad func(string, string, ...any)) {
	names := map[string]bool{}
	for i, p := range c.Secrets.Policies {
		key := fmt.Sprintf("secrets.policies[%d]", i)
		if p.Name == "" {
			bad(key+".name", "every policy needs a name (it is recorded in the audit event of each decision)")
		} else if names[p.Name] {
			bad(key+".name", "%q is used by another policy; names are unique", p.Name)
		}
		names[p.Name] = true
		if len(p.Paths) == 0 {
			bad(key+".paths", "a policy needs at least one path prefix (\"*\" for every path)")
		}
		// The manager's own parser (secrets.ParsePrefix), so what config
		// check accepts is exactly what the manager compiles: no
		// traversal, upper case, empty segment or glob.
		for j, path := range p.Paths {
			if _, err := secrets.ParsePrefix(path); err != nil {
				bad(fmt.Sprintf("%s.paths[%d]", key, j), "%q is not a path prefix (lower-case segments a-z 0-9 . _ - joined by '/', or \"*\" for every path): %v", path, err)
			}
		}
		for j, id := range p.SPIFFEIDs {
			if _, err := spiffeid.FromString(id); err != nil {
				bad(fmt.Sprintf("%s.spiffe_ids[%d]", key, j), "%q is not a SPIFFE ID (spiffe://trust-domain/path): %v", id, err)
			}
		}
		if len(p.Capabilities) == 0 {
			bad(key+".capabilities", "a policy needs at least one capability: %v", SecretCapabilities)
		}
		for _, cp := range p.Capabilities {
			if !slices.Contains(SecretCapabilities, cp) {
				bad(key+".capabilities", "%q is not a capability; use %v", cp, SecretCapabilities)
			}
		}
		if len(p.Clients)+len(p.Roles)+len(p.SPIFFEIDs) == 0 {
			bad(key, "a policy names no principal; list clients, roles or spiffe_ids")
		}
	}
}

// validateSecretDatabases checks secrets.databases and secrets.dynamic.
func (c *Config) validateSecretDatabases(bad func(string, string, ...any)) {
	dbs := map[string]bool{}
	for i, d := range c.Secrets.Databases {
		key := fmt.Sprintf("secrets.databases[%d]", i)
		if d.Name == "" {
			bad(key+".name", "every database needs a name (rotations and dynamic roles refer to it)")
		} else if dbs[d.Name] {
			bad(key+".name", "%q is used by another database; names are unique", d.Name)
		}
		dbs[d.Name] = true
		if (d.DSNEnv == "") == (d.DSNFile == "") {
			bad(key, "set exactly one of dsn_env (an environment variable) and dsn_file (a file) holding the administrative DSN")
		}
		if d.MaxConnections < 1 || d.MaxConnections > 100 {
			bad(key+".max_connections", "%d is out of range; use 1 to 100", d.MaxConnections)
		}
	}
	paths := map[string]bool{}
	for i, r := range c.Secrets.Dynamic {
		key := fmt.Sprintf("secrets.dynamic[%d]", i)
		if r.Path == "" {
			bad(key+".path", "every dynamic role needs a path (e.g. db/app/readonly)")
		} else if paths[r.Path] {
			bad(key+".path", "%q is used by another dynamic role", r.Path)
		}
		paths[r.Path] = true
		if !dbs[r.Database] {
			bad(key+".database", "%q is not in secrets.databases", r.Database)
		}
		if len(r.CreationStatements) == 0 {
			bad(key+".creation_statements", "a dynamic role needs at least one statement, e.g. CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}")
		}
		if r.DefaultTTL.D() <= 0 || r.MaxTTL.D() <= 0 || r.DefaultTTL.D() > r.MaxTTL.D() {
			bad(key+".default_ttl", "default_ttl %s and max_ttl %s must be positive, and default_ttl at most max_ttl", r.DefaultTTL.D(), r.MaxTTL.D())
		}
	}
}

// validateSecretRotations checks secrets.rotations.
func (c *Config) validateSecretRotations(bad func(string, string, ...any)) {
	dbs := map[string]bool{}
	for _, d := range c.Secrets.Databases {
		dbs[d.Name] = true
	}
	paths := map[string]bool{}
	for i, r := range c.Secrets.Rotations {
		key := fmt.Sprintf("secrets.rotations[%d]", i)
		if r.Path == "" {
			bad(key+".path", "every rotation needs the path of its secret")
		} else if paths[r.Path] {
			bad(key+".path", "%q has another rotation; one rotator per secret", r.Path)
		}
		paths[r.Path] = true
		if r.Every.D() < 0 {
			bad(key+".every", "must not be negative (omit it for manual-only rotation)")
		}
		// The engine's own parser, so what config check accepts is what
		// the scheduler runs.
		if _, err := rotation.ParseWindow(r.Window); err != nil {
			bad(key+".window", "%v; use a weekly UTC window such as \"Sat 02:00-04:00\", \"Mon-Fri 01:00-03:00\" or \"02:00-04:00\" (daily), or omit it for any time", err)
		}
		switch r.Rotator {
		case "random":
			if r.Length < 16 || r.Length > 4096 {
				bad(key+".length", "%d is out of range; use 16 to 4096", r.Length)
			}
		case "postgres":
			if !dbs[r.Database] {
				bad(key+".database", "%q is not in secrets.databases", r.Database)
			}
			switch r.Strategy {
			case "single":
				if len(r.Users) != 1 {
					bad(key+".users", "the single strategy rotates exactly one role; list one")
				}
			case "alternating":
				if len(r.Users) != 2 || r.Users[0] == r.Users[1] {
					bad(key+".users", "the alternating strategy takes turns between exactly two different roles; list two")
				}
			default:
				bad(key+".strategy", "%q is not a strategy; use %v", r.Strategy, SecretStrategies)
			}
		case "oauth_client":
			if r.ClientID == "" {
				bad(key+".client_id", "the oauth_client rotator needs the stored client whose secret rotates")
			}
		case "signing_key":
		default:
			bad(key+".rotator", "%q is not a rotator; use %v", r.Rotator, SecretRotators)
		}
	}
}
