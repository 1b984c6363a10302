-- 0002: OAuth clients, authorization codes, token families, refresh tokens,
-- revoked access-token ids, consents, users and login sessions.
-- Codes, refresh tokens and sessions are stored only as SHA-256 hashes.
-- Lists are JSON arrays of strings. Times are Unix nanoseconds, 0 = unset.

CREATE TABLE oauth_clients (
    id               TEXT    PRIMARY KEY,
    secret_hash      TEXT    NOT NULL,
    public           BIGINT NOT NULL,
    grant_types      TEXT    NOT NULL,
    redirect_uris    TEXT    NOT NULL,
    scopes           TEXT    NOT NULL,
    audience         TEXT    NOT NULL,
    skip_consent     BIGINT NOT NULL,
    resource_server  BIGINT NOT NULL,
    access_ttl       BIGINT NOT NULL,
    refresh_ttl      BIGINT NOT NULL,
    refresh_idle_ttl BIGINT NOT NULL,
    source           TEXT    NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE oauth_codes (
    hash           BYTEA    PRIMARY KEY,
    client_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    audience       TEXT    NOT NULL,
    nonce          TEXT    NOT NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);

CREATE TABLE oauth_families (
    id         TEXT    PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    code_hash  BYTEA    UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_families_user_client ON oauth_families (user_id, client_id);
CREATE INDEX oauth_families_client ON oauth_families (client_id);
CREATE INDEX oauth_families_expires ON oauth_families (expires_at);

CREATE TABLE oauth_refresh_tokens (
    hash       BYTEA    PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_refresh_family ON oauth_refresh_tokens (family_id);
CREATE INDEX oauth_refresh_expires ON oauth_refresh_tokens (expires_at);

-- Access tokens issued in a family, so revoking the family can deny them.
CREATE TABLE oauth_family_access (
    jti        TEXT    PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_family_access_family ON oauth_family_access (family_id);
CREATE INDEX oauth_family_access_expires ON oauth_family_access (expires_at);

CREATE TABLE oauth_denied_jti (
    jti        TEXT    PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_denied_jti_expires ON oauth_denied_jti (expires_at);

CREATE TABLE oauth_consents (
    user_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_consents_client ON oauth_consents (client_id);

CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    disabled      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE user_sessions (
    id_hash    BYTEA    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);
