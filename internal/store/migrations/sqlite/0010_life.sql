-- 0010 (life): session lifecycle and the pages people see.
-- Sessions record when they were last used (idle timeout), the browser and
-- the address they were started from (the account page lists them).
ALTER TABLE user_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE user_sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
-- A user who must choose a new password before doing anything else (the
-- dev-mode one-time admin password).
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
-- Client display metadata and RP-initiated logout targets (JSON list).
ALTER TABLE oauth_clients ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN policy_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN tos_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
