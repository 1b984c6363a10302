-- 0005: client secret rotation with an overlap window. `rampart client
-- rotate-secret --overlap 24h` keeps the previous secret valid until
-- expires_at (or until `client retire-secret`), so the client's
-- deployments can move to the new one without an outage. One previous
-- secret per client at most: a second rotation replaces it.
CREATE TABLE oauth_client_previous_secrets (
    client_id   TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);
