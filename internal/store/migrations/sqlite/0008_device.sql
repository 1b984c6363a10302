-- 0008: device authorization requests (RFC 8628). The device_code is
-- stored only as its SHA-256; the user_code is stored normalized (8
-- letters, uppercase, no dash) and is unique: an expired row holding a
-- code is deleted before the code is given out again (SaveDevice).
-- status is pending, approved or denied; redeemed_at (0 = not yet) makes
-- the token exchange single-use, decided_at the approval. interval is the
-- current polling interval in seconds (raised by slow_down, RFC 8628 §3.5).
-- Lists are JSON arrays of strings. Times are Unix nanoseconds, 0 = unset.
CREATE TABLE oauth_device_codes (
    hash         BLOB    PRIMARY KEY,
    user_code    TEXT    NOT NULL UNIQUE,
    client_id    TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    audience     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    user_id      TEXT    NOT NULL DEFAULT '',
    auth_time    INTEGER NOT NULL DEFAULT 0,
    amr          TEXT    NOT NULL DEFAULT '[]',
    decided_at   INTEGER NOT NULL DEFAULT 0,
    last_poll_at INTEGER NOT NULL DEFAULT 0,
    interval_s   INTEGER NOT NULL,
    redeemed_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oauth_device_codes_expires ON oauth_device_codes (expires_at);
CREATE INDEX oauth_device_codes_client ON oauth_device_codes (client_id);
