-- 0014 (certbound): RFC 8705 §4. oauth_refresh_tokens.x5t_s256 binds a
-- public client's refresh token to the client certificate (the base64url
-- SHA-256 thumbprint of its DER) of the mutual-TLS token request it was
-- issued on: it is redeemed only over mutual TLS with the same certificate.
-- '' = none. oauth_clients.cert_bound_tokens: the client's token requests
-- must come over mutual TLS with a valid SVID (RFC 8705 §3.4); 0 = no.
ALTER TABLE oauth_refresh_tokens ADD COLUMN x5t_s256 TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN cert_bound_tokens INTEGER NOT NULL DEFAULT 0;
