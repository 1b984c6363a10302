-- 0015: the secrets manager's storage (internal/secrets, issue 15).
--
-- secrets: one row per secret. id is random (128-bit hex) and part of the
-- associated data of every version's value and DEK, so a secret destroyed
-- and made again at the same path does not open the old rows.
-- current_version is the newest version number: a write's check-and-set
-- is a conditional UPDATE of it. metadata is a JSON object of strings.
-- Times are Unix nanoseconds (0: none).
CREATE TABLE secrets (
    id              TEXT    PRIMARY KEY,
    path            TEXT    NOT NULL UNIQUE,
    current_version BIGINT  NOT NULL,
    metadata        TEXT    NOT NULL DEFAULT '{}',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

-- secret_versions: dek_sealed is the version's 32-byte data key sealed by
-- the keyring under "rampart/secret-dek/v1/<id>\0<version>" (re-wrapped by
-- a master-key rotation); ciphertext is nonce || AES-256-GCM of the value
-- under that DEK, associated data "rampart/secret/v1/<id>\0<path>\0<version>".
-- A destroyed version keeps its row with both emptied.
CREATE TABLE secret_versions (
    secret_id    TEXT    NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version      BIGINT  NOT NULL CHECK (version > 0),
    dek_sealed   BYTEA   NOT NULL,
    ciphertext   BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    deleted_at   BIGINT  NOT NULL DEFAULT 0,
    destroyed_at BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (secret_id, version)
);

-- secret_labels: a label points at one version of its secret (current,
-- pending, previous, or an operator's own).
CREATE TABLE secret_labels (
    secret_id TEXT    NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    label     TEXT    NOT NULL,
    version   BIGINT  NOT NULL,
    PRIMARY KEY (secret_id, label)
);
CREATE INDEX secret_labels_version ON secret_labels (secret_id, version);
