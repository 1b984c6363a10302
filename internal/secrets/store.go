package secrets

import (
	"context"
	"time"
)

// Storage contracts of the manager, implemented by internal/store/sqlstore
// (db.Secrets()). Small interfaces, composed into Store. Every write that
// moves a label or checks a version is one transaction (or one
// conditional UPDATE) in the store, so two writers racing on the same
// expectation cannot both win.

// SecretRecord is a secret's row: its random ID (part of every version's
// AEAD associated data), path, newest version number, metadata and labels.
type SecretRecord struct {
	ID             string
	Path           Path
	CurrentVersion int64
	Metadata       map[string]string
	Labels         map[string]int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// VersionRecord is one version's row. DEKSealed is the version's data key
// sealed by the keyring (AD kms.SecretDEKAD(SecretID, Version));
// Ciphertext the value sealed with the DEK (AD versionAD). A destroyed
// version has neither.
type VersionRecord struct {
	SecretID    string
	Version     int64
	DEKSealed   []byte
	Ciphertext  []byte
	CreatedAt   time.Time
	CreatedBy   string
	DeletedAt   time.Time // zero: not deleted
	DestroyedAt time.Time // zero: not destroyed
	// Labels are the labels on this version (filled by ReadVersion and
	// Versions).
	Labels []string
}

// VersionWrite is one Put as the store applies it, in one transaction:
//
//   - Create: insert the secrets row (ID, Path); a row already at Path is
//     ErrConflict. Otherwise bump current_version from Expect to
//     Version.Version with a conditional UPDATE; zero rows is ErrConflict.
//   - insert Version;
//   - point each of Labels at it; moving LabelCurrent points
//     LabelPrevious at the version current held (if any, and different);
//   - replace the metadata when SetMetadata;
//   - destroy (erase ciphertext and DEK, set destroyed_at) every version
//     numbered at most Version.Version-Keep that carries no label.
type VersionWrite struct {
	Path        Path
	Create      bool
	Expect      int64
	Version     VersionRecord
	Labels      []string
	Metadata    map[string]string
	SetMetadata bool
	Keep        int
	Now         time.Time
}

// SecretReader reads secrets.
type SecretReader interface {
	// SecretByPath returns the secret at path with its labels; ErrNotFound.
	SecretByPath(ctx context.Context, path Path) (SecretRecord, error)
	// ReadVersion returns the secret at path and the version sel selects
	// (sel.Version when set, else the version labelled sel.Label) with its
	// labels, in one round trip; ErrNotFound when the secret, the label or
	// the version does not exist.
	ReadVersion(ctx context.Context, path Path, sel Selector) (SecretRecord, VersionRecord, error)
	// ListSecrets returns the secrets under prefix (by whole segments),
	// by path, with their labels.
	ListSecrets(ctx context.Context, prefix Prefix) ([]SecretRecord, error)
	// SecretVersions returns every version of the secret (without
	// ciphertext and DEK), oldest first, with their labels.
	SecretVersions(ctx context.Context, secretID string) ([]VersionRecord, error)
}

// SecretWriter changes secrets.
type SecretWriter interface {
	// InsertVersion applies w (see VersionWrite) and returns the versions
	// it destroyed beyond Keep.
	InsertVersion(ctx context.Context, w VersionWrite) (destroyed []int64, err error)
	// MoveLabel points label at version to, in one transaction: to must
	// exist, not deleted nor destroyed (else ErrInvalid; missing:
	// ErrNotFound); expect nil: no check, 0: the label must not exist, n:
	// it must be at n (else ErrConflict). Moving LabelCurrent points
	// LabelPrevious at the version current held (if any, and different).
	MoveLabel(ctx context.Context, secretID, label string, to int64, expect *int64, now time.Time) error
	// RemoveLabel removes label (ErrNotFound when absent); expect as in
	// MoveLabel.
	RemoveLabel(ctx context.Context, secretID, label string, expect *int64, now time.Time) error
	// SetDeleted marks versions deleted at at (zero: undeletes them);
	// a missing version is ErrNotFound, a destroyed one ErrDestroyed, and
	// then nothing changes.
	SetDeleted(ctx context.Context, secretID string, versions []int64, at time.Time) error
	// DestroyVersions erases the ciphertext and DEK of versions (kept as
	// destroyed rows); a missing version is ErrNotFound and nothing changes.
	DestroyVersions(ctx context.Context, secretID string, versions []int64, now time.Time) error
	// DeleteSecret removes the secret, its versions and labels.
	DeleteSecret(ctx context.Context, secretID string) error
}

// Store is every storage operation of the manager.
type Store interface {
	SecretReader
	SecretWriter
}
