-- 0003: a consent names the resource servers it was given for (the
-- client's configured audiences shown on the consent page), a JSON array
-- of strings. Consents remembered before this had no such binding: they
-- are migrated to cover no resource at all, so a client with configured
-- audiences asks its users once more instead of reaching a resource they
-- may never have been shown. Clients without audiences are unaffected.
ALTER TABLE oauth_consents ADD COLUMN audience TEXT NOT NULL DEFAULT '[]';
