-- 0017: the rotation engine's runs (internal/secrets/rotation, issue 15).
--
-- secret_rotations: one row per rotation run of a secret, persisted before
-- and after each step (create, set, test, finish) so a run interrupted at
-- any point (kill -9) is resumed by the next instance. id is random
-- (128-bit hex). step is the step to run next (done when the run ended);
-- outcome is '' while the run is open, then 'done' or 'failed'.
-- last_error is a reason code, never a value. claimed_by/claimed_until
-- hold the fleet-wide claim: an instance runs a step only while its
-- conditional UPDATE of the claim succeeded. Times are Unix nanoseconds
-- (0: none).
CREATE TABLE secret_rotations (
    id              TEXT    PRIMARY KEY,
    path            TEXT    NOT NULL,
    rotator         TEXT    NOT NULL,
    step            TEXT    NOT NULL,
    outcome         TEXT    NOT NULL DEFAULT '',
    pending_version BIGINT  NOT NULL DEFAULT 0,
    emergency       BIGINT  NOT NULL DEFAULT 0,
    reason          TEXT    NOT NULL DEFAULT '',
    requested_by    TEXT    NOT NULL DEFAULT '',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    started_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    finished_at     BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    claimed_by      TEXT    NOT NULL DEFAULT '',
    claimed_until   BIGINT  NOT NULL DEFAULT 0
);

-- One open run per secret, fleet-wide: a second instance starting a
-- rotation of the same path finds the open run instead of making another.
CREATE UNIQUE INDEX secret_rotations_open ON secret_rotations (path) WHERE finished_at = 0;
CREATE INDEX secret_rotations_path ON secret_rotations (path, finished_at);
