-- 0006: DPoP (RFC 9449). oauth_codes.dpop_jkt is the dpop_jkt parameter
-- of the authorization request (§10): the code is redeemed only with a
-- proof of that key. oauth_refresh_tokens.dpop_jkt binds a public client's
-- refresh token to the key of the proof it was issued with (§5): it is
-- redeemed only with a proof of the same key. oauth_clients.require_dpop:
-- the client's token requests must carry a proof. '' / 0 = none.
ALTER TABLE oauth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_refresh_tokens ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
