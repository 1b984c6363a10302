// Package pgdyn is Rampart's dynamic PostgreSQL credentials engine: a
// lease is a new PostgreSQL role, made from a configured role's creation
// statements for one principal and dropped at expiry or revocation.
//
// # Leases
//
// Create generates a role name "rampart_<8 hex of SHA-256 of the role
// path>_<16 random hex>" (33 bytes, lower case), a password of 32 random
// bytes (base64url) and the expiry, and renders each creation statement:
// {{name}} becomes the name quoted as an identifier
// (pgx.Identifier.Sanitize), {{password}} the single-quoted SCRAM-SHA-256
// verifier of the password (pgscram: the server never receives the
// password itself) and {{expiration}} a single-quoted literal (the values
// come from a closed alphabet without quotes or backslashes, checked
// before quoting). Templates with any other "{{...}}"
// are refused by CheckTemplate, at config check and at New. The lease row
// is written first (state creating, claimed by its creator for two
// minutes), the statements run in one transaction (under an advisory
// lock that serializes lease DDL per database, retried when PostgreSQL
// reports a transient failure), then the row turns
// active: a crash in between leaves a row the reaper cleans up. The
// password is returned once and never stored, logged or audited; a
// PostgreSQL error is reported by statement index and SQLSTATE only (its
// message may quote the password literal).
//
// TTLs: 0 asks for the role's DefaultTTL; more than MaxTTL is clamped.
// Renew extends from now, never beyond MaxExpiresAt (creation + MaxTTL),
// and moves the role's VALID UNTIL; an expired or revoked lease is
// refused.
//
// # Revocation
//
// Revoke, RevokePath and the reaper claim the row (one conditional UPDATE
// to revoking with a one-minute claim, so two instances do not fight)
// and then, on the administrative pool: ALTER ROLE ... NOLOGIN;
// pg_terminate_backend of every session of the role's oid until none is
// left (bounded); the revocation statements, DROP OWNED BY and DROP ROLE
// IF EXISTS in one transaction; a last terminate by oid; and the row is
// marked revoked. Every step may be rerun after a crash; a role already
// gone is success. Reap takes expired active leases and creating or
// revoking rows whose claim ran out (their instance died); Run reaps at
// start (crash recovery, leases that expired while Rampart was down) and
// every ReapEvery.
//
// # Policy
//
// Create, List and RevokePath need secrets.CapLease on the role path,
// checked before any store access (ErrForbidden whether the role exists
// or not). Renew and Revoke take a lease id: a principal with the lease
// capability on no role is ErrForbidden before the store; otherwise a
// missing lease, a lease on a path it may not lease, and another
// principal's lease all answer the same ErrNotFound (no IDOR oracle).
// KindAdmin and KindSystem act on every lease; anyone else on its own
// (Owner is the creator's Actor()). Every operation records one
// audit.ActionSecretLease event, Target the role path, Details op
// (create, renew, revoke, reap, list), lease_id, username and ttl.
package pgdyn
