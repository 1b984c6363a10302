package keys

import (
	"context"
	"errors"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// State is a signing key's place in its life cycle:
// published → active → retired → removed, or, from any of the first three,
// → revoked at once (an emergency: the key is believed compromised).
type State string

// Key states.
const (
	// StatePublished: in the JWKS, not signing yet, so every verifier's
	// cache learns it before the first token it signs.
	StatePublished State = "published"
	// StateActive: the one key that signs. There is never more than one.
	StateActive State = "active"
	// StateRetired: no longer signs, still in the JWKS until every token it
	// signed has expired.
	StateRetired State = "retired"
	// StateRemoved: out of the JWKS, private key wiped; the row stays as
	// history.
	StateRemoved State = "removed"
	// StateRevoked: taken out of signing and the JWKS at once by Revoke,
	// private key wiped; like removed, it never comes back. RetiredAt and
	// RemoveAt are both the time of the revocation.
	StateRevoked State = "revoked"
)

// ErrConflict is returned by Store.UpdateKeyRing when the key ring
// generation is no longer the expected one: another instance (or the CLI)
// changed the ring first. The caller reloads and re-evaluates.
var ErrConflict = errors.New("keys: key ring changed concurrently")

// KeyRecord is one row of signing_keys. Times are UTC; zero means unset.
type KeyRecord struct {
	KID       string
	Algorithm string
	State     State
	// PublicJWK is the public key as a JWK (JSON), for listing; the JWKS is
	// built from the decrypted and verified private key, never from this.
	PublicJWK []byte
	// PrivateEnc is the PKCS#8 private key sealed by the master key; empty
	// once the key is removed.
	PrivateEnc []byte
	// EncVersion is the envelope format, bound into the associated data.
	EncVersion int
	CreatedAt  time.Time
	ActivateAt time.Time // when it started (or will start) signing
	RetiredAt  time.Time
	RemoveAt   time.Time // when it leaves the JWKS
}

// KeyRing is a snapshot of the ring: its generation and every key row
// (removed ones included), oldest first.
type KeyRing struct {
	Generation int64
	Keys       []KeyRecord
}

// KeyUpdate moves one key from state From to state To and sets its times.
// The store applies it only if the row is still in state From. To
// StateRevoked, RetiredAt and RemoveAt are both the revocation time and
// WipePrivate is set.
type KeyUpdate struct {
	KID        string
	From, To   State
	ActivateAt time.Time
	RetiredAt  time.Time
	RemoveAt   time.Time
	// WipePrivate empties private_enc (on removal).
	WipePrivate bool
}

// KeyRingChange is everything one schedule step changes, applied in one
// transaction: Updates in order, then Inserts.
type KeyRingChange struct {
	Updates []KeyUpdate
	Inserts []KeyRecord
}

// Store persists the key ring. *sqlstore.DB implements it.
type Store interface {
	// KeyRingGeneration returns the ring's generation: a cheap query, run
	// to notice changes made by other instances.
	KeyRingGeneration(ctx context.Context) (int64, error)
	// LoadKeyRing returns the generation and every key. The generation is
	// read first, so a snapshot is never labelled newer than its keys.
	LoadKeyRing(ctx context.Context) (KeyRing, error)
	// UpdateKeyRing applies change in one transaction that first moves the
	// generation from expect to expect+1 (compare-and-swap). It returns
	// ErrConflict, changing nothing, when the generation is not expect or
	// an updated row is not in its From state.
	UpdateKeyRing(ctx context.Context, expect int64, change KeyRingChange) (int64, error)
}

// Auditor durably records audit events (the audit log implements it). Record
// returns only once the event is stored.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}
