-- 0004: key-encryption key versions and sealed data keys (internal/kms).
-- A key version is the master key the operator holds while the store is
-- at that version; check_value is its key-check value (HMAC-SHA256 under
-- a subkey used for nothing else, of a fixed string), so a start can tell
-- the current key, a retired one and a foreign one apart without storing
-- anything that helps to recover the key. `rampart master-key rotate`
-- retires the current version and records the next in one transaction.
CREATE TABLE kek_versions (
    version     INTEGER  PRIMARY KEY CHECK (version >= 1),
    check_value BLOB   NOT NULL,
    created_at  INTEGER  NOT NULL,
    retired_at  INTEGER  NOT NULL DEFAULT 0 -- 0: the current version
);
-- At most one current version.
CREATE UNIQUE INDEX kek_versions_one_current ON kek_versions (retired_at) WHERE retired_at = 0;

-- Data keys: 32-byte keys (client-secret HMAC, audit pseudonyms, CSRF,
-- login proof) sealed under the current key version, with the purpose as
-- associated data, so a rotation re-wraps them and they keep their values.
CREATE TABLE kms_data_keys (
    purpose    TEXT    PRIMARY KEY,
    sealed     BLOB   NOT NULL,
    created_at INTEGER  NOT NULL
);
