-- 0001: signing keys, key ring generation counter, audit hash chain.
-- Times are Unix nanoseconds (UTC) so both dialects store them the same way.

CREATE TABLE signing_keys (
    kid          TEXT    PRIMARY KEY,
    algorithm    TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('published', 'active', 'retired', 'removed')),
    public_jwk   TEXT    NOT NULL,
    private_enc  BLOB    NOT NULL,          -- AES-256-GCM(master key), kid+version as associated data; empty once removed
    enc_version  INTEGER NOT NULL,          -- envelope format / master key version
    created_at   INTEGER NOT NULL,
    activate_at  INTEGER NOT NULL,          -- when it may start signing
    retired_at   INTEGER NOT NULL DEFAULT 0,
    remove_at    INTEGER NOT NULL DEFAULT 0 -- when it leaves the JWKS (0: not scheduled)
);
CREATE INDEX signing_keys_state ON signing_keys (state);
-- At most one active key and at most one key waiting to activate, enforced
-- by the database itself as a backstop to the key_ring compare-and-swap: no
-- bug or concurrent instance can ever leave two keys signing (split brain).
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_published ON signing_keys (state) WHERE state = 'published';

-- One row; every change to the key ring bumps generation with a
-- compare-and-swap so concurrent instances cannot rotate twice.
CREATE TABLE key_ring (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO key_ring (id, generation) VALUES (1, 0);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    client_addr TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);

-- The chain head: appenders lock this row so several instances append one chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);
-- Genesis: seq 0 and 32 zero bytes, so the first append has a row to lock.
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, X'0000000000000000000000000000000000000000000000000000000000000000');
