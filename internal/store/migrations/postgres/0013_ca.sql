-- 0013: the internal SPIFFE CA (internal/ca, issue 14).
--
-- ca_state is one row: the trust domain of the CA in this store and a
-- generation that every change of the hierarchy bumps with a
-- compare-and-swap, so of two nodes rotating at once one wins. Its
-- primary key makes initialisation race-safe (insert-if-absent).
CREATE TABLE ca_state (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    trust_domain TEXT    NOT NULL,
    generation   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- The root and the intermediates. id is the hex of the first 16 bytes of
-- SHA-256(cert_der); key_sealed is the PKCS#8 private key sealed with the
-- keyring under the associated data "rampart/ca-key/v1/<id>" (re-wrapped
-- by a master-key rotation). An intermediate is in the bundle from
-- created_at and signs from activate_at.
CREATE TABLE ca_authorities (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('root', 'intermediate')),
    cert_der    BYTEA    NOT NULL,
    key_sealed  BYTEA    NOT NULL,
    created_at  BIGINT NOT NULL,
    activate_at BIGINT NOT NULL,
    not_after   BIGINT NOT NULL
);
CREATE UNIQUE INDEX ca_authorities_one_root ON ca_authorities (kind) WHERE kind = 'root';

-- Registrations: a SPIFFE ID, its DNS names (comma-separated, validated
-- DNS names have no comma), its SVID lifetime (nanoseconds, 0: default)
-- and the OAuth client that may obtain it (NULL: none; one ID per client).
CREATE TABLE ca_registrations (
    spiffe_id  TEXT    PRIMARY KEY,
    dns_names  TEXT    NOT NULL DEFAULT '',
    ttl        BIGINT NOT NULL DEFAULT 0,
    client_id  TEXT    UNIQUE,
    created_at BIGINT NOT NULL
);

-- Join tokens: only SHA-256 of the token string is stored. One-time: a
-- conditional UPDATE of used_at consumes it. Bound to one SPIFFE ID or a
-- pattern spiffe://<td>/prefix/* (the other column is '').
CREATE TABLE ca_join_tokens (
    token_hash BYTEA    PRIMARY KEY,
    spiffe_id  TEXT    NOT NULL DEFAULT '',
    pattern    TEXT    NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0
);

-- Every issued SVID (serial: lowercase hex), kept 24h past expiry.
-- revoked_at 0: not revoked.
CREATE TABLE ca_certs (
    serial     TEXT    PRIMARY KEY,
    spiffe_id  TEXT    NOT NULL,
    issuer_id  TEXT    NOT NULL,
    not_before BIGINT NOT NULL,
    not_after  BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0,
    reason     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ca_certs_spiffe_id ON ca_certs (spiffe_id, not_after);
CREATE INDEX ca_certs_issuer ON ca_certs (issuer_id, not_after);
CREATE INDEX ca_certs_revoked ON ca_certs (revoked_at, not_after);

-- SPIFFE IDs revoked as a whole: refused at issuance and renewal until
-- registered again.
CREATE TABLE ca_revoked_ids (
    spiffe_id  TEXT    PRIMARY KEY,
    revoked_at BIGINT NOT NULL,
    reason     TEXT    NOT NULL DEFAULT ''
);

-- The CRLs (DER, signed by the root), shared by the fleet; the highest
-- number is current. A node that makes one inserts number = latest + 1;
-- the primary key lets one of two racers win.
CREATE TABLE ca_crl (
    number      BIGINT PRIMARY KEY,
    der         BYTEA    NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL
);
