-- 0007 (parjwt): client authentication methods and keys (private_key_jwt,
-- RFC 7523), per-client PAR requirement (RFC 9126), single-use client
-- assertion ids, and pushed authorization requests.

-- auth_method: "" (the default of the client's kind), client_secret_basic,
-- client_secret_post, private_key_jwt or none. jwks is an inline JWK Set
-- (JSON text, "" when none); jwks_uri a URL ("" when none).
ALTER TABLE oauth_clients ADD COLUMN auth_method TEXT    NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN jwks        TEXT    NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN jwks_uri    TEXT    NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN require_par BIGINT  NOT NULL DEFAULT 0;

-- Client assertion ids seen, by SHA-256 of (client id, jti), until the
-- assertion's exp: a conditional insert refuses a live one on any
-- instance (RFC 7523 §3 item 7).
CREATE TABLE oauth_assertion_jtis (
    hash       BYTEA   PRIMARY KEY,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX oauth_assertion_jtis_expires ON oauth_assertion_jtis (expires_at);

-- Pushed authorization requests (RFC 9126), by SHA-256 of the request_uri.
-- params is the form-encoded request. opened_at is set by the first
-- authorization request that names it (within expires_at); used_at is set
-- once, by a conditional UPDATE, when its code is issued (single use
-- across a fleet).
CREATE TABLE oauth_par_requests (
    hash       BYTEA   PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    params     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    opened_at  BIGINT  NOT NULL DEFAULT 0,
    used_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX oauth_par_requests_expires ON oauth_par_requests (expires_at);
