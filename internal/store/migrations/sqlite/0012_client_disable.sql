-- 0012 (lifecycle2): an administrator can disable a stored client without
-- deleting it; client authentication and the registry refuse it.
ALTER TABLE oauth_clients ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
