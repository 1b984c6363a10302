// Package pgrotate rotates PostgreSQL role passwords: the rotators the
// rotation engine (internal/secrets/rotation) drives for secrets
// configured with rotator postgres (secrets.rotations[], docs/secrets.md).
//
// # Value
//
// A rotated secret's value is the JSON object
//
//	{"username":"app_a","password":"<43 characters of base64url>"}
//
// ParseCredential decodes it strictly (exactly these two string members,
// once each; nothing else) for consumers, and Credential.ConnConfig turns
// it into a pgx connection config over a base one. Passwords are 32
// random bytes in unpadded base64url.
//
// # Strategies
//
// single: one role. NewValue keeps the user and makes a password; Set
// runs ALTER ROLE ... WITH LOGIN PASSWORD, so a client holding the old
// value cannot open new connections once Set ran (its open sessions
// stay); Test connects with the new credential and runs SELECT 1;
// Finish, on an emergency, terminates the role's sessions.
//
// alternating: two roles that take turns (Vault's and Infisical's
// dual-user rotation). NewValue names the role that current does not (the
// first when there is no current); Set changes only that role, so the
// credential clients hold keeps working through the switch and for one
// more period, until the rotation after next changes its role again.
// Finish does nothing, or on an emergency gives the previous role a
// random password nobody knows and NOLOGIN, then terminates its sessions
// (Set gives LOGIN back when the role is next rotated); an emergency Set
// also terminates the pending role's sessions, opened with its old
// password.
//
// # SQL
//
// ALTER ROLE takes no bind parameters. The role name comes from Options
// (configuration), never from a stored value (a value naming another role
// is refused), and is quoted by pgx.Identifier.Sanitize. The password
// never reaches the server: Rampart sends its SCRAM-SHA-256 verifier
// (stored as given), so statement logging cannot capture it; a pending
// password that the generator could not have made is refused before any
// SQL runs. Statements are never logged. Sessions are ended with
// pg_terminate_backend over pg_stat_activity for the role, never the
// administrative connection's own.
package pgrotate
