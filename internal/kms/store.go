package kms

import (
	"context"
	"errors"
	"time"
)

// Version is one key-encryption key version recorded in the store: the
// key-check value of the master key the operator held while the store was
// at that version. The current version has a zero RetiredAt; there is at
// most one.
type Version struct {
	Version   uint32
	Check     []byte // MasterKey.CheckValue
	CreatedAt time.Time
	RetiredAt time.Time // zero: current
}

// Current reports whether v is the current version.
func (v Version) Current() bool { return v.RetiredAt.IsZero() }

// VersionStore records key versions.
type VersionStore interface {
	// KEKVersions returns every recorded version, oldest first.
	KEKVersions(ctx context.Context) ([]Version, error)
	// ClaimFirstKEK records v as version 1 unless a version 1 exists
	// (insert-if-absent: of two processes starting at once, one wins and
	// both then read the winner).
	ClaimFirstKEK(ctx context.Context, v Version) error
}

// DataKeyStore holds the sealed data keys.
type DataKeyStore interface {
	// DataKeys returns every sealed data key by purpose.
	DataKeys(ctx context.Context) (map[DataKey][]byte, error)
	// InsertDataKey stores sealed for purpose unless a row exists
	// (insert-if-absent; the caller re-reads).
	InsertDataKey(ctx context.Context, purpose DataKey, sealed []byte) error
}

// Sealed is one sealed value in the store: a signing key (ID is its kid)
// or a data key (ID is its purpose).
type Sealed struct {
	ID    string
	Value []byte
}

// Snapshot is every sealed value in the store, read for a rotation.
type Snapshot struct {
	// Generation is the key ring generation the signing keys were read
	// at: the rotation commits only if the ring is still there, so a key
	// added meanwhile cannot be left sealed under the old version.
	Generation  int64
	SigningKeys []Sealed // rows whose private key is not wiped
	DataKeys    []Sealed
	TOTPSecrets []Sealed // by user id (TOTPSecretAD)
	CAKeys      []Sealed // by CA authority id (CAKeyAD)
	// SecretDEKs are the data keys of the stored secrets' versions (not
	// destroyed), by SecretDEKID (SecretDEKAD).
	SecretDEKs []Sealed
}

// Rewrap replaces Old by New in the row ID, only if it still holds Old.
type Rewrap struct {
	ID       string
	Old, New []byte
}

// Rotation is everything one master-key rotation changes, applied in one
// transaction by RotationStore.ApplyRotation.
type Rotation struct {
	Generation  int64     // the key ring must still be at this generation
	Retire      uint32    // the current version, retired at RetiredAt
	RetiredAt   time.Time //
	New         Version   // recorded as the new current version
	SigningKeys []Rewrap
	DataKeys    []Rewrap
	TOTPSecrets []Rewrap
	CAKeys      []Rewrap
	SecretDEKs  []Rewrap
}

// ErrConflict is returned by ApplyRotation, having changed nothing, when
// the store moved since the snapshot (a key ring change, another
// rotation).
var ErrConflict = errors.New("kms: the store changed during the rotation; run it again")

// RotationStore reads and rewrites every sealed value.
type RotationStore interface {
	// RotationSnapshot returns every sealed value in the store.
	RotationSnapshot(ctx context.Context) (Snapshot, error)
	// ApplyRotation applies r in one transaction: the key ring still at
	// r.Generation (else ErrConflict), r.Retire retired, r.New recorded,
	// every rewrap applied where the row still holds Old (else
	// ErrConflict). beforeCommit runs last inside the transaction; its
	// error rolls everything back.
	ApplyRotation(ctx context.Context, r Rotation, beforeCommit func() error) error
}

// Store is everything the package needs from the store.
type Store interface {
	VersionStore
	DataKeyStore
	RotationStore
}
