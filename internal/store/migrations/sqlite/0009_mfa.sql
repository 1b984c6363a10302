-- 0009: TOTP two-step sign-in (RFC 6238) and the authentication methods
-- (RFC 8176 amr) of sessions, codes and refresh tokens.
--
-- user_totp holds a user's TOTP secret sealed with the keyring (AD
-- "rampart/totp/v1/<user id>", so a sealed secret copied to another user
-- does not open). confirmed_at is 0 until the user proved the
-- authenticator with a first code: only a confirmed row is enforced.
-- last_step is the last accepted RFC 6238 time step; a code is accepted
-- only for a later step, checked and set by one conditional UPDATE so two
-- instances cannot both accept it. uses counts accepted second factors:
-- a pending sign-in is bound to it, so it dies once any code is accepted.
CREATE TABLE user_totp (
    user_id       TEXT    PRIMARY KEY,
    secret_sealed BLOB    NOT NULL,
    created_at    INTEGER  NOT NULL,
    confirmed_at  INTEGER  NOT NULL DEFAULT 0,
    last_step     INTEGER  NOT NULL DEFAULT 0,
    uses          INTEGER  NOT NULL DEFAULT 0
);

-- Recovery codes: stored as SHA-256 of the normalized code (each has 80
-- random bits, so a fast hash suffices: nothing to brute-force offline),
-- single use through a conditional UPDATE of used_at.
CREATE TABLE user_recovery_codes (
    user_id    TEXT    NOT NULL,
    code_hash  BLOB    NOT NULL,
    created_at INTEGER  NOT NULL,
    used_at    INTEGER  NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
);

-- Authentication methods, space-separated RFC 8176 values ("pwd",
-- "pwd otp"). Rows from before carry '' and mean "pwd".
ALTER TABLE user_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '';

-- A client whose authorizations need the second factor (require_mfa).
ALTER TABLE oauth_clients ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
