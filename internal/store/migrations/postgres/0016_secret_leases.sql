-- 0016: dynamic PostgreSQL credentials (internal/secrets/pgdyn, issue 15).
--
-- secret_leases: one row per lease. The row is written (state creating)
-- before the role exists, so a crash between leaves a row the reaper
-- cleans up (DROP ROLE IF EXISTS). States: creating, active, revoking,
-- revoked. username is the generated role name (unique: two leases never
-- share a role). The password is never stored: the role holds it.
-- claimed_until is the claim of the instance creating or revoking the
-- lease (a conditional UPDATE takes it, so two reapers do not fight).
-- Times are Unix nanoseconds (0: none).
CREATE TABLE secret_leases (
    id             TEXT    PRIMARY KEY,
    path           TEXT    NOT NULL,
    database       TEXT    NOT NULL,
    username       TEXT    NOT NULL UNIQUE,
    owner          TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('creating', 'active', 'revoking', 'revoked')),
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    max_expires_at BIGINT  NOT NULL,
    revoked_at     BIGINT  NOT NULL DEFAULT 0,
    claimed_until  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX secret_leases_state_expires ON secret_leases (state, expires_at);
CREATE INDEX secret_leases_path ON secret_leases (path, state);
