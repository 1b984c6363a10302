-- 0011 (fapi): a client's profile: '' (none) or 'fapi2' (the FAPI 2.0
-- Security Profile: PAR, private_key_jwt, DPoP-bound tokens, no refresh
-- token rotation).
ALTER TABLE oauth_clients ADD COLUMN profile TEXT NOT NULL DEFAULT '';
