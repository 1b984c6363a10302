package config

import "time"

// Secrets configures the secrets manager (docs/secrets.md): how many
// versions a secret keeps, who may do what under which path, the
// PostgreSQL databases the rotators and dynamic credentials act on, the
// dynamic credential roles and the rotation schedules.
type Secrets struct {
	// KeepVersions is how many versions a secret keeps; a write beyond it
	// destroys the oldest versions that carry no label. Default 10.
	KeepVersions int `yaml:"keep_versions"`
	// Policies grant capabilities under path prefixes; with none, only
	// the local CLI (which holds the master key) can use the manager:
	// deny by default.
	Policies []SecretPolicy `yaml:"policies"`
	// Databases are PostgreSQL servers reached with an administrative
	// DSN (a role with CREATEROLE), named by the rotations and dynamic
	// roles.
	Databases []SecretDatabase `yaml:"databases"`
	// Dynamic are the dynamic credential roles: each lease creates a
	// short-lived PostgreSQL role from the statements.
	Dynamic []DynamicRole `yaml:"dynamic"`
	// Rotations are the secrets with a rotator, scheduled or manual-only.
	Rotations []SecretRotation `yaml:"rotations"`
}

// SecretPolicy grants Capabilities on Paths to the principals it names
// (a principal matching any of Clients, Roles, SPIFFEIDs); a token-based
// principal must also carry every scope of Scopes.
type SecretPolicy struct {
	Name string `yaml:"name"`
	// Paths are path prefixes, matched by whole segments: team/a covers
	// team/a and team/a/db, never team/ab. "*" covers every path.
	Paths []string `yaml:"paths"`
	// Capabilities: read, list, write, delete, destroy, rotate, lease.
	Capabilities []string `yaml:"capabilities"`
	// Clients are OAuth client ids (their client_credentials tokens).
	Clients []string `yaml:"clients"`
	// Roles are user roles (tokens of a signed-in user).
	Roles []string `yaml:"roles"`
	// SPIFFEIDs are workload identities presenting an X.509-SVID of this
	// CA over mTLS on ca.listen.
	SPIFFEIDs []string `yaml:"spiffe_ids"`
	// Scopes a token must carry (all of them), for Clients and Roles.
	Scopes []string `yaml:"scopes"`
}

// SecretDatabase is a PostgreSQL server the secrets manager administers.
type SecretDatabase struct {
	Name string `yaml:"name"`
	// DSNEnv names the environment variable, DSNFile the file, holding
	// the administrative DSN (never in the configuration file).
	DSNEnv  string `yaml:"dsn_env"`
	DSNFile string `yaml:"dsn_file"`
	// MaxConnections bounds the administrative pool. Default 4.
	MaxConnections int `yaml:"max_connections"`
}

// DynamicRole is a dynamic credential role: a lease runs
// CreationStatements with {{name}}, {{password}} and {{expiration}}
// (generated, quoted by Rampart) and, at expiry or revocation, terminates
// the role's sessions, runs RevocationStatements and drops the role.
type DynamicRole struct {
	// Path addresses the role in the secrets API (`rampart secret lease
	// create PATH`) and in policies (capability lease).
	Path                 string   `yaml:"path"`
	Database             string   `yaml:"database"`
	CreationStatements   []string `yaml:"creation_statements"`
	RevocationStatements []string `yaml:"revocation_statements"`
	// DefaultTTL is a lease's lifetime unless asked for less; MaxTTL caps
	// its lifetime from creation, renewals included.
	DefaultTTL Duration `yaml:"default_ttl"`
	MaxTTL     Duration `yaml:"max_ttl"`
}

// SecretRotation gives a secret a rotator and a schedule.
type SecretRotation struct {
	Path string `yaml:"path"`
	// Rotator: random, postgres, oauth_client, signing_key.
	Rotator string `yaml:"rotator"`
	// Every is the rotation period (0: manual only, `rampart secret
	// rotate`); Window restricts scheduled rotations to a weekly UTC
	// window ("Sat 02:00-04:00", "Mon-Fri 01:00-03:00", "02:00-04:00").
	Every  Duration `yaml:"every"`
	Window string   `yaml:"window"`
	// random: the value's length and alphabet (alnum, hex, base64url,
	// ascii-printable). Defaults 32 and alnum.
	Length   int    `yaml:"length"`
	Alphabet string `yaml:"alphabet"`
	// postgres: the database, the strategy (single or alternating) and
	// the role(s): one for single, two for alternating.
	Database string   `yaml:"database"`
	Strategy string   `yaml:"strategy"`
	Users    []string `yaml:"users"`
	// oauth_client: the stored client whose secret rotates, and how long
	// the previous secret keeps working (default: the OAuth hardening
	// overlap).
	ClientID string   `yaml:"client_id"`
	Overlap  Duration `yaml:"overlap"`
	// signing_key: the algorithm of the generated key (ES256, EdDSA,
	// RS256, PS256). Default ES256.
	Algorithm string `yaml:"algorithm"`
}

// Secrets defaults and bounds.
const (
	// DefaultKeepVersions: ten versions, Vault KV v2's default
	// max_versions; enough to roll back across several rotations.
	DefaultKeepVersions = 10
	// MaxKeepVersions bounds the rows one secret holds.
	MaxKeepVersions = 100
	// DefaultSecretDBConns: the administrative pool issues a few DDL
	// statements per lease or rotation, never per request.
	DefaultSecretDBConns = 4
	// DefaultDynamicTTL and DefaultDynamicMaxTTL: an hour per lease and a
	// day in all, Vault's database engine defaults are 768h; short-lived
	// credentials are the point, so Rampart's are shorter.
	DefaultDynamicTTL    = time.Hour
	DefaultDynamicMaxTTL = 24 * time.Hour
	// DefaultClientSecretOverlap: how long a scheduled oauth_client
	// rotation keeps the previous secret working, a day for the client's
	// deployments to read the new one (an emergency rotation has none);
	// MaxClientSecretOverlap is admin.MaxSecretOverlap (7 days: a
	// rotated-out secret must not linger).
	DefaultClientSecretOverlap = 24 * time.Hour
	MaxClientSecretOverlap     = 7 * 24 * time.Hour
)

// defaultSecrets fills the secrets section's unset keys.
func (c *Config) defaultSecrets() {
	s := &c.Secrets
	if s.KeepVersions == 0 {
		s.KeepVersions = DefaultKeepVersions
	}
	for i := range s.Databases {
		if s.Databases[i].MaxConnections == 0 {
			s.Databases[i].MaxConnections = DefaultSecretDBConns
		}
	}
	for i := range s.Dynamic {
		setDur(&s.Dynamic[i].DefaultTTL, DefaultDynamicTTL)
		setDur(&s.Dynamic[i].MaxTTL, DefaultDynamicMaxTTL)
	}
	for i := range s.Rotations {
		r := &s.Rotations[i]
		switch r.Rotator {
		case "random":
			if r.Length == 0 {
				r.Length = 32
			}
			if r.Alphabet == "" {
				r.Alphabet = "alnum"
			}
		case "oauth_client":
			setDur(&r.Overlap, DefaultClientSecretOverlap)
		case "signing_key":
			if r.Algorithm == "" {
				r.Algorithm = "ES256"
			}
		}
	}
}
